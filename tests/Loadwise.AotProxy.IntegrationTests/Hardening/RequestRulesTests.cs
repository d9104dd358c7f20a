namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// Requests the proxy refuses, and requests it must still answer: each refused one never reaches the backend, and
/// another client's next request still gets its own response.
/// </summary>
public abstract class RequestRulesTests : HardeningTestBase
{
    public static TheoryData<string, int> Refused => new()
    {
        // The raw request (LF is sent as CRLF unless the case is about bare LF), and the status the client gets.
        { "GET /a HTTP/1.1\nHost: proxy\nX(y): 1\n\n", 400 },
        { "GET /a HTTP/1.1\nHost: proxy\nX\u007fY: 1\n\n", 400 },
        { "GET /a HTTP/1.1\nHost: proxy\nX-A: a\u0001b\n\n", 400 },
        { "GET /a#frag HTTP/1.1\nHost: proxy\n\n", 400 },
        { "GET /a HTTP/1.1\nHost: a:b:c\n\n", 400 },
        { "GET /a HTTP/1.1\nHost: [::1\n\n", 400 },
        { "GET /a HTTP/1.1\nHost: :80\n\n", 400 },
        { "GET /a HTTP/1.1\nHost: a:\n\n", 400 },
        { "GET /a HTTP/1.1\nHost: a\nHost: b\n\n", 400 },
        { "GET /a HTTP/1.1\nHost: a\nX-A : 1\n\n", 400 },
        { "GET /a HTTP/1.1\nHost: a\nX-A: 1\n folded\n\n", 400 },
        { "GET /a HTTP/1.1\nHost: a\nContent-Length: 1\nTransfer-Encoding: chunked\n\n0\n\n", 400 },
        { "CONNECT backend:443 HTTP/1.1\nHost: backend:443\n\n", 405 },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_request_the_rules_refuse_never_reaches_the_backend(string request, int status)
    {
        await using ScriptedBackend backend = Backend(ScriptedBackend.OwnAsync);
        await using TestProxy proxy = await StartProxyAsync(backend);

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, request.Replace("\n", "\r\n", StringComparison.Ordinal));
        Assert.Equal(status, response?.Status);
        if (status == 405)
        {
            Assert.Contains("GET", response!.Header("Allow") ?? "", StringComparison.Ordinal);
        }

        Assert.Empty(backend.Requests);
        await AssertOthersServedAsync(proxy);
    }

    [Theory]
    [InlineData("GET /a HTTP/1.1\nHost: proxy\n\n")]
    [InlineData("GET /a HTTP/1.1\r\nHost: proxy\n\r\n")]
    [InlineData("GET /a HTTP/1.1\r\nHost: proxy\r\n\n")]
    public async Task A_head_with_bare_line_feeds_is_answered_at_once_not_at_the_timeout(string request)
    {
        await using ScriptedBackend backend = Backend(ScriptedBackend.OwnAsync);
        await using TestProxy proxy = await StartProxyAsync(backend, options => options.Limits.RequestHeadersTimeoutMs = 30_000);

        long started = Environment.TickCount64;
        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, request);
        long elapsed = Environment.TickCount64 - started;
        Assert.True(elapsed < 5_000, $"answered after {elapsed} ms");
        Assert.Equal(400, response?.Status);
        Assert.Empty(backend.Requests);
        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task A_client_that_half_closes_after_its_request_gets_its_response()
    {
        await using ScriptedBackend backend = Backend(async (stream, request) =>
        {
            await Task.Delay(300, Ct); // the FIN reaches the proxy long before the answer
            return await ScriptedBackend.OwnAsync(stream, request);
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        for (int i = 0; i < 3; i++)
        {
            using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
            await client.SendAsync($"GET /slow/{i} HTTP/1.1\r\nHost: proxy\r\n\r\n");
            client.ShutdownSend();
            WireResponse? response = await client.ReadResponseAsync();
            Assert.Equal($"own:/slow/{i}", response?.Text);
        }

        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task OPTIONS_asterisk_keeps_its_target()
    {
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 200 OK\r\nAllow: GET\r\nContent-Length: 0\r\n\r\n");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "OPTIONS * HTTP/1.1\r\nHost: proxy\r\n\r\n");
        if (Path == ProxyPath.HttpClient)
        {
            // HttpClient cannot send an asterisk-form target: refused rather than sent with an empty one.
            Assert.Equal(501, response?.Status);
            Assert.Empty(backend.Requests);
        }
        else
        {
            Assert.Equal(200, response?.Status);
            Assert.Equal("OPTIONS * HTTP/1.1", Assert.Single(backend.Requests).RequestLine);
        }

        await AssertOthersServedAsync(proxy);
    }
}

public sealed class RequestRulesOnEventLoopTests : RequestRulesTests
{
    protected override ProxyPath Path => ProxyPath.EventLoop;
}

public sealed class RequestRulesOnSocketTransportTests : RequestRulesTests
{
    protected override ProxyPath Path => ProxyPath.SocketTransport;
}

public sealed class RequestRulesOnKestrelTests : RequestRulesTests
{
    protected override ProxyPath Path => ProxyPath.Kestrel;
}

public sealed class RequestRulesOnHttpClientTests : RequestRulesTests
{
    protected override ProxyPath Path => ProxyPath.HttpClient;
}
