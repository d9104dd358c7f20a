using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// Request bodies on every path: framed by their length or chunked, small (held whole, so a retry can resend them) or
/// large (streamed as the backend takes them); clients and backends that stop halfway; pipelining; Expect.
/// </summary>
public abstract class RequestBodyTests : HardeningTestBase
{
    public static TheoryData<string, string, int> Bodies => new()
    {
        // method, framing, size
        { "POST", "length", 1024 },
        // Held whole but larger than the backend connection's 16 KiB buffer: sent beside the head, not behind it.
        { "POST", "length", 40_000 },
        { "PUT", "length", 200_000 },
        { "PATCH", "length", 0 },
        { "POST", "chunked", 3000 },
        { "PUT", "chunked", 150_000 },
        { "POST", "none", 0 },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task A_body_reaches_the_backend_whole_and_the_connection_carries_on(string method, string framing, int size)
    {
        await using ScriptedBackend backend = Backend(EchoDigestAsync);
        await using TestProxy proxy = await StartProxyAsync(backend);
        byte[] body = RandomNumberGenerator.GetBytes(size);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync(Request(method, "/body", framing, body));
        WireResponse? response = await client.ReadResponseAsync();
        Assert.Equal(200, response?.Status);
        Assert.Equal($"{size}:{Convert.ToHexString(SHA256.HashData(body))}", response!.Text);

        ScriptedRequest received = Assert.Single(backend.Requests);
        Assert.StartsWith(method + " /body ", received.RequestLine, StringComparison.Ordinal);
        Assert.Equal(body, received.Body);
        Assert.Null(received.Header("Expect"));

        // The client's connection carries its next request.
        await client.SendAsync("GET /own/next HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal("own:/own/next", (await client.ReadResponseAsync())?.Text);
        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task Pipelined_requests_with_bodies_come_back_in_order()
    {
        await using ScriptedBackend backend = Backend(EchoDigestAsync);
        await using TestProxy proxy = await StartProxyAsync(backend);
        byte[] large = RandomNumberGenerator.GetBytes(100_000);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync([.. Request("POST", "/a", "length", "hello"u8.ToArray()), .. Encoding.ASCII.GetBytes("GET /own/b HTTP/1.1\r\nHost: proxy\r\n\r\n"),
            .. Request("PUT", "/c", "length", large), .. Request("POST", "/d", "length", "abc"u8.ToArray())]);

        Assert.StartsWith("5:", (await client.ReadResponseAsync())?.Text, StringComparison.Ordinal);
        Assert.Equal("own:/own/b", (await client.ReadResponseAsync())?.Text);
        Assert.Equal($"100000:{Convert.ToHexString(SHA256.HashData(large))}", (await client.ReadResponseAsync())?.Text);
        Assert.StartsWith("3:", (await client.ReadResponseAsync())?.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_that_stops_mid_body_leaves_no_backend_connection_behind()
    {
        await using ScriptedBackend backend = Backend(EchoDigestAsync);
        await using TestProxy proxy = await StartProxyAsync(backend);

        using (RawConnection client = await RawConnection.OpenAsync(proxy.Port))
        {
            await client.SendAsync(Encoding.ASCII.GetBytes("POST /cut HTTP/1.1\r\nHost: proxy\r\nContent-Length: 300000\r\n\r\n"));
            await client.SendAsync(new byte[100_000]);
            await Task.Delay(200, Ct);
        }

        await ScriptedBackend.WaitForAsync(() => backend.OpenConnections == 0, "the backend connection to close", 10_000);
        Assert.Equal(0, proxy.Server.IdleBackendConnections);
        Assert.Empty(backend.Requests); // the backend never got a whole request
        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task A_backend_that_answers_before_the_whole_body_has_its_answer_relayed_and_its_connection_dropped()
    {
        await using ScriptedBackend backend = ScriptedBackend.Start(
            async (stream, request) =>
            {
                if (request.Target.StartsWith("/own/", StringComparison.Ordinal))
                {
                    return await ScriptedBackend.OwnAsync(stream, request);
                }

                // Refuses at once, without reading the body, then closes as servers do (nginx's lingering close):
                // its side first, draining the rest, so that no reset destroys the answer in flight.
                await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig");
                stream.Socket.Shutdown(SocketShutdown.Send);
                byte[] sink = new byte[64 * 1024];
                using var linger = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                linger.CancelAfter(5000);
                while (await stream.ReadAsync(sink, linger.Token) > 0)
                {
                }

                return false;
            },
            readBody: false);
        await using TestProxy proxy = await StartProxyAsync(backend);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        Task sending = client.SendAsync(Request("POST", "/upload", "length", new byte[4_000_000]));
        WireResponse? response = await client.ReadResponseAsync();
        Assert.Equal(413, response?.Status);
        Assert.Equal("big", response!.Text);
        try
        {
            await sending; // the proxy stops reading the body; the client's send may fail
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
        }

        await AssertOthersServedAsync(proxy);
        ScriptedRequest[] received = backend.Requests;
        Assert.All(received.Skip(1), r => Assert.NotEqual(received[0].Connection, r.Connection));
    }

    [Fact]
    public async Task A_refusal_after_an_interim_answer_stops_the_upload()
    {
        // 100 Continue, then 413, and the backend stops reading without closing: the 413 decides, not the 100.
        Assert.SkipWhen(Path == ProxyPath.HttpClient, "HttpClient (https backends) keeps sending until the backend closes: its own rule, documented in request-paths.md");
        await using ScriptedBackend backend = ScriptedBackend.Start(
            async (stream, request) =>
            {
                if (request.Target.StartsWith("/own/", StringComparison.Ordinal))
                {
                    return await ScriptedBackend.OwnAsync(stream, request);
                }

                await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig");
                await Task.Delay(TimeSpan.FromSeconds(20), Ct);
                return false;
            },
            readBody: false);
        await using TestProxy proxy = await StartProxyAsync(backend, o => o.Timeouts.ResponseBodyIdleMs = 60_000);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        Task sending = client.SendAsync(Request("POST", "/upload", "length", new byte[8_000_000]));
        var waited = System.Diagnostics.Stopwatch.StartNew();
        WireResponse? response = await client.ReadResponseAsync();
        while (response?.Status == 100)
        {
            response = await client.ReadResponseAsync();
        }

        Assert.Equal(413, response?.Status);
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10), $"the 413 came after {waited.Elapsed.TotalSeconds:0.0} s");
        try
        {
            await sending;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
        }

        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task A_backend_that_answers_while_it_still_reads_gets_the_whole_body()
    {
        // A streaming backend (an echo, a transcoder) starts its 200 before the body ends and reads on: the proxy keeps
        // sending, so the backend sees the last chunk and finishes its answer.
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using ScriptedBackend backend = ScriptedBackend.Start(
            async (stream, request) =>
            {
                if (request.Target.StartsWith("/own/", StringComparison.Ordinal))
                {
                    return await ScriptedBackend.OwnAsync(stream, request);
                }

                await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                answered.TrySetResult();
                var seen = new StringBuilder();
                byte[] buffer = new byte[4096];
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                limit.CancelAfter(5000);
                while (!seen.ToString().EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal))
                {
                    int read = await stream.ReadAsync(buffer, limit.Token);
                    if (read == 0)
                    {
                        return false;
                    }

                    seen.Append(Encoding.Latin1.GetString(buffer, 0, read));
                }

                string answer = seen.ToString().Contains("world", StringComparison.Ordinal) ? "whole" : "cut";
                await ScriptedBackend.WriteAsync(stream, $"{answer.Length:x}\r\n{answer}\r\n0\r\n\r\n");
                return true;
            },
            readBody: false);
        await using TestProxy proxy = await StartProxyAsync(backend);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync("POST /stream HTTP/1.1\r\nHost: proxy\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
        await answered.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        // The backend's answer is at the proxy before it reads the rest of the body.
        await Task.Delay(100, Ct);
        await client.SendAsync("5\r\nworld\r\n");
        await Task.Delay(100, Ct);
        await client.SendAsync("0\r\n\r\n");

        WireResponse? response = await client.ReadResponseAsync();
        Assert.Equal(200, response?.Status);
        Assert.Equal("whole", response!.Text);
        await client.SendAsync("GET /own/next HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal("own:/own/next", (await client.ReadResponseAsync())?.Text);
        await AssertOthersServedAsync(proxy);
        // The backend connection that answered before the body's end carries nothing else (on the direct paths: HttpClient
        // pools its own connections by its own rules).
        ScriptedRequest[] received = backend.Requests;
        if (Path != ProxyPath.HttpClient)
        {
            Assert.All(received.Skip(1), r => Assert.NotEqual(received[0].Connection, r.Connection));
        }
    }

    [Fact]
    public async Task Expect_100_continue_is_answered_by_the_proxy_and_not_forwarded()
    {
        await using ScriptedBackend backend = Backend(EchoDigestAsync);
        await using TestProxy proxy = await StartProxyAsync(backend);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync("POST /expect HTTP/1.1\r\nHost: proxy\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
        WireResponse? interim = await client.ReadResponseAsync();
        Assert.Equal(100, interim?.Status);
        await client.SendAsync("hello");
        WireResponse? response = await client.ReadResponseAsync();
        Assert.Equal(200, response?.Status);
        Assert.StartsWith("5:", response!.Text, StringComparison.Ordinal);
        Assert.Null(Assert.Single(backend.Requests).Header("Expect"));
    }

    [Theory]
    [InlineData(1_000)]
    [InlineData(40_000)]
    [InlineData(500_000)]
    public async Task A_body_is_retried_on_another_backend_when_the_connect_failed(int size)
    {
        await using ScriptedBackend backend = Backend(EchoDigestAsync);
        int closedPort = ClosedPort();
        await using TestProxy proxy = await StartProxyAsync(backend, o =>
        {
            // The dead backend first, so that round robin tries it first.
            o.Backends.Insert(0, new BackendOptions { Id = "dead", Url = $"http://127.0.0.1:{closedPort}" });
            o.Retries.Count = 1;
        });
        byte[] body = RandomNumberGenerator.GetBytes(size);

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, Encoding.Latin1.GetString(Request("POST", "/retry", "length", body)));
        Assert.Equal(200, response?.Status);
        Assert.Equal(body, Assert.Single(backend.Requests).Body);
    }

    [Fact]
    public async Task A_streamed_body_is_never_sent_twice()
    {
        // The first backend takes part of the body, then resets: the body cannot be sent again, so no retry.
        await using ScriptedBackend breaking = ScriptedBackend.Start(
            async (stream, _) =>
            {
                byte[] part = new byte[50_000];
                await stream.ReadAtLeastAsync(part, part.Length, throwOnEndOfStream: false, Ct);
                return false;
            },
            readBody: false);
        await using ScriptedBackend backend = Backend(EchoDigestAsync);
        await using TestProxy proxy = await StartProxyAsync(breaking, o =>
        {
            o.Backends.Add(new BackendOptions { Id = "second", Url = backend.Url });
            o.Retries.Count = 1;
        });

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, Encoding.Latin1.GetString(Request("POST", "/once", "length", new byte[2_000_000])));
        Assert.Equal(502, response?.Status);
        Assert.Empty(backend.Requests);
    }

    /// <summary>Answers with the body's length and SHA-256, so the client can check what arrived.</summary>
    private static async Task<bool> EchoDigestAsync(NetworkStream stream, ScriptedRequest request)
    {
        if (request.Target.StartsWith("/own/", StringComparison.Ordinal))
        {
            return await ScriptedBackend.OwnAsync(stream, request);
        }

        string digest = $"{request.Body.Length}:{Convert.ToHexString(SHA256.HashData(request.Body))}";
        await ScriptedBackend.WriteAsync(stream, $"HTTP/1.1 200 OK\r\nContent-Length: {digest.Length}\r\n\r\n{digest}");
        return true;
    }

    private static byte[] Request(string method, string target, string framing, byte[] body)
    {
        string head = $"{method} {target} HTTP/1.1\r\nHost: proxy\r\n";
        if (framing == "none")
        {
            return Encoding.ASCII.GetBytes(head + "\r\n");
        }

        if (framing == "length")
        {
            return [.. Encoding.ASCII.GetBytes($"{head}Content-Length: {body.Length}\r\n\r\n"), .. body];
        }

        var chunked = new MemoryStream();
        chunked.Write(Encoding.ASCII.GetBytes(head + "Transfer-Encoding: chunked\r\n\r\n"));
        for (int offset = 0; offset < body.Length; offset += 7000)
        {
            int length = Math.Min(7000, body.Length - offset);
            chunked.Write(Encoding.ASCII.GetBytes($"{length:x}\r\n"));
            chunked.Write(body, offset, length);
            chunked.Write("\r\n"u8);
        }

        chunked.Write("0\r\n\r\n"u8);
        return chunked.ToArray();
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}

public sealed class RequestBodyOnEventLoopTests : RequestBodyTests
{
    protected override ProxyPath Path => ProxyPath.EventLoop;
}

public sealed class RequestBodyOnSocketTransportTests : RequestBodyTests
{
    protected override ProxyPath Path => ProxyPath.SocketTransport;
}

public sealed class RequestBodyOnKestrelTests : RequestBodyTests
{
    protected override ProxyPath Path => ProxyPath.Kestrel;
}

public sealed class RequestBodyOnHttpClientTests : RequestBodyTests
{
    protected override ProxyPath Path => ProxyPath.HttpClient;
}
