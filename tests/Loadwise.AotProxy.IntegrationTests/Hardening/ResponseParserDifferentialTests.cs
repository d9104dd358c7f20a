using System.Net;
using System.Net.Sockets;
using System.Text;
using Loadwise.AotProxy.Threading;
using Loadwise.AotProxy.Upstream;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// The proxy's response parser against HttpClient's (SocketsHttpHandler): thousands of seeded mutations of response
/// heads and bodies, each served by a raw backend that closes after it. Whatever the proxy accepts, HttpClient must
/// accept too, with the same body.
/// </summary>
public sealed class ResponseParserDifferentialTests
{
    /// <summary>The seed; LOADWISE_FUZZ_SEED runs another (a longer search than CI's, with LOADWISE_FUZZ_CASES).</summary>
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("LOADWISE_FUZZ_SEED"), out int seed) ? seed : 61220;

    private static readonly int Cases = int.TryParse(Environment.GetEnvironmentVariable("LOADWISE_FUZZ_CASES"), out int cases) ? cases : 3_000;

    private static readonly string[] Responses =
    [
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nX-A: 1\r\n\r\nabc",
        "HTTP/1.0 200 OK\r\n\r\nuntil close",
        "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-B: b\r\n\r\n3;e=1\r\nabc\r\n2\r\nde\r\n0\r\nT: t\r\n\r\n",
    ];

    private static readonly string[] Lengths = ["+5", "-0", "5, 5", "05", "0x5", "", "99999999999999999999", "4", "6", "5 5", "\t5", "1e1"];

    private static readonly string[] Codings = ["chunked", "gzip, chunked", "chunked, gzip", "xchunked", "Chunked", "chunked;a=b", "", " chunked", "chunked, chunked", ",chunked", "identity"];

    private static readonly string[] StatusLines = ["HTTP/1.1 200", "HTTP/1.1 2000 OK", "HTTP/1.1 099 X", "HTTP/2 200 OK", "HTTP/1.1 200 O\u00e9", "http/1.1 200 OK", "HTTP/1.1  200 OK", "HTTP/1.2 200 OK", "HTTP/1.1 200 OK "];

    private static readonly string[] Lines =
    [
        "X(y): 1", "X-A : 1", "X-A:1", " X-A: 1", "X-A: a\u0001", "X-A: \u00e9", "Content-Length: 5", "Transfer-Encoding: chunked",
        "Connection: close", "Connection: Content-Length", "X-A:", "X-A: a\tb", "X@A: 1", "Content-Length: 0",
    ];

    private static readonly byte[] Interesting = Encoding.Latin1.GetBytes("\r\n \t:;\0\u007f\u00ff0123456789abcdefABCDEF,-+");

    [Fact]
    public async Task Whatever_the_proxy_accepts_HttpClient_accepts_with_the_same_body()
    {
        var random = new Random(Seed);
        byte[] current = [];
        using var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start(256);
        int port = ((IPEndPoint)server.LocalEndpoint).Port;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        Task serving = ServeAsync(server, () => Volatile.Read(ref current), stop.Token);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.Zero, AutomaticDecompression = DecompressionMethods.None })
        {
            Timeout = TimeSpan.FromSeconds(10),
        };

        int accepted = 0;
        var failures = new List<string>();
        for (int i = 0; i < Cases && failures.Count < 5; i++)
        {
            byte[] response = Mutate(Encoding.Latin1.GetBytes(Responses[random.Next(Responses.Length)]), random);
            Volatile.Write(ref current, response);
            byte[]? ours = await ProxyReadsAsync(port);
            if (ours is null)
            {
                continue;
            }

            accepted++;
            byte[]? theirs = await HttpClientReadsAsync(client, port);
            if (theirs is null || !theirs.AsSpan().SequenceEqual(ours))
            {
                failures.Add($"case {i}: {Show(response)}\n  proxy: {Show(ours)}\n  HttpClient: {(theirs is null ? "refused" : Show(theirs))}");
            }
        }

        await stop.CancelAsync();
        server.Stop();
        await serving;
        TestContext.Current.TestOutputHelper?.WriteLine($"{Cases} mutated responses (seed {Seed}), {accepted} accepted by the proxy and checked against HttpClient");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(accepted > Cases / 10, $"only {accepted} mutations were accepted: too destructive to test much");
    }

    /// <summary>One to three edits: a length, coding, status line or header line swapped in, or a byte changed.</summary>
    private static byte[] Mutate(byte[] response, Random random)
    {
        string text = Encoding.Latin1.GetString(response);
        for (int e = random.Next(1, 4); e > 0; e--)
        {
            int headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headEnd < 0)
            {
                break;
            }

            string[] lines = text[..headEnd].Split("\r\n");
            string rest = text[(headEnd + 4)..];
            switch (random.Next(9))
            {
                case 0:
                    lines = Replace(lines, "Content-Length", Lengths[random.Next(Lengths.Length)]);
                    break;
                case 1:
                    lines = Replace(lines, "Transfer-Encoding", Codings[random.Next(Codings.Length)]);
                    break;
                case 2:
                    lines[0] = StatusLines[random.Next(StatusLines.Length)];
                    break;
                case 3:
                case 4:
                    int at = random.Next(1, lines.Length + 1);
                    lines = [.. lines[..at], Lines[random.Next(Lines.Length)], .. lines[at..]];
                    break;
                default:
                    var bytes = new List<byte>(Encoding.Latin1.GetBytes(text));
                    int position = random.Next(bytes.Count);
                    if (random.Next(2) == 0)
                    {
                        bytes.Insert(position, Interesting[random.Next(Interesting.Length)]);
                    }
                    else
                    {
                        bytes[position] = Interesting[random.Next(Interesting.Length)];
                    }

                    text = Encoding.Latin1.GetString([.. bytes]);
                    continue;
            }

            text = string.Join("\r\n", lines) + "\r\n\r\n" + rest;
        }

        return Encoding.Latin1.GetBytes(text);
    }

    private static string[] Replace(string[] lines, string name, string value)
    {
        int index = Array.FindIndex(lines, l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase));
        return index < 0 ? [.. lines, $"{name}: {value}"] : [.. lines[..index], $"{name}: {value}", .. lines[(index + 1)..]];
    }

    /// <summary>The proxy's reading: the final head and the decoded body, or null when it refuses the response.</summary>
    private static async Task<byte[]?> ProxyReadsAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), TestContext.Current.CancellationToken);
        using var connection = new BackendConnection(socket);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            connection.BeginExchange();
            await connection.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n"u8.ToArray(), timeout.Token);
            while (!ResponseReader.TryReadHead(connection, connection.Head, false, out ValueTask<int> pending, timeout.Token))
            {
                ResponseReader.ReceivedHeadBytes(connection, await pending);
            }

            var body = new MemoryStream();
            using var deadline = new ReadDeadline(timeout.Token, TimeSpan.FromSeconds(10), ProxyClock.System);
            await ResponseReader.CopyBodyAsync(connection, connection.Head, body, deadline);
            return body.ToArray();
        }
        catch (Exception e) when (e is UpstreamException or SocketException)
        {
            return null;
        }
    }

    /// <summary>HttpClient's reading: the body, or null when it refuses the response.</summary>
    private static async Task<byte[]?> HttpClientReadsAsync(HttpClient client, int port)
    {
        try
        {
            using HttpResponseMessage response = await client.GetAsync($"http://127.0.0.1:{port}/", TestContext.Current.CancellationToken);
            return await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>Answers every connection's first request with the current case's bytes, then closes it.</summary>
    private static async Task ServeAsync(TcpListener server, Func<byte[]> response, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await server.AcceptSocketAsync(cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            using (socket)
            {
                var reader = new WireReader(socket, cancellationToken);
                try
                {
                    if (await reader.ReadUntilAsync("\r\n\r\n"u8.ToArray()) is not null)
                    {
                        await socket.SendAsync(response(), SocketFlags.None, cancellationToken);
                        socket.Shutdown(SocketShutdown.Send);
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException)
                {
                }
            }
        }
    }

    private static string Show(byte[] bytes) => Encoding.Latin1.GetString(bytes).Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
