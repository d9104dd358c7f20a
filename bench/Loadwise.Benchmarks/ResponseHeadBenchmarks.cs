using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Loadwise.AotProxy.Http;

namespace Loadwise.Benchmarks;

/// <summary>
/// The proxy's response-head parser on the head nginx sends for a static file (status line and 8 fields), as the
/// direct pool parses every backend response: once per proxied request, so it should take well under 1 us and 0 B.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class ResponseHeadBenchmarks
{
    private static readonly byte[] NginxHead = Encoding.ASCII.GetBytes(
        "HTTP/1.1 200 OK\r\nServer: nginx/1.26.3\r\nDate: Sun, 22 Nov 2026 17:30:00 GMT\r\nContent-Type: text/html\r\n"
        + "Content-Length: 1024\r\nLast-Modified: Sun, 22 Nov 2026 17:00:00 GMT\r\nConnection: keep-alive\r\n"
        + "ETag: \"6740a1b0-400\"\r\nAccept-Ranges: bytes\r\n\r\n");

    private readonly ResponseHead _head = new();

    [Benchmark]
    public int ParseNginxHead()
    {
        if (_head.TryParse(NginxHead, requestWasHead: false, out int consumed, out _) != OperationStatus.Done)
        {
            throw new InvalidOperationException("the benchmark's head did not parse");
        }

        return consumed;
    }
}
