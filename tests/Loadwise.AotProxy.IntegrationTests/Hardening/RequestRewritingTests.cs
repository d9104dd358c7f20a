using System.Text;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// What reaches the backend is what the client sent, or a refusal: header bytes are not rewritten to look-alikes,
/// dot segments cannot leave a backend URL's base path, and headers spelled to slip past the rules do not pass.
/// </summary>
public abstract class RequestRewritingTests : HardeningTestBase
{
    [Theory]
    [InlineData("GET")]
    [InlineData("POST")]
    public async Task Header_bytes_above_0x7F_reach_the_backend_as_sent_and_count_against_nobody(string method)
    {
        await using ScriptedBackend backend = Backend(ScriptedBackend.OwnAsync);
        await using TestProxy proxy = await StartProxyAsync(backend);

        // U+FF1D and U+FF1B (fullwidth '=' and ';') in UTF-8: a best-fit Latin-1 encoder would send "a=b; session=admin".
        byte[] value = Encoding.UTF8.GetBytes("a\uff1db\uff1b session\uff1dadmin");
        string body = method == "POST" ? "Content-Length: 1\r\n\r\nA" : "\r\n";
        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync([.. Encoding.ASCII.GetBytes($"{method} /own/latin HTTP/1.1\r\nHost: proxy\r\nCookie: "), .. value, .. Encoding.ASCII.GetBytes("\r\n" + body)]);
        WireResponse? response = await client.ReadResponseAsync();

        Assert.Equal(200, response?.Status);
        ScriptedRequest received = Assert.Single(backend.Requests);
        Assert.Equal(Encoding.Latin1.GetString(value), received.Header("Cookie"));
        Assert.Equal(HealthStatus.Healthy, proxy.Server.Health.Tracker.GetState("scripted").Status);
    }

    [Theory]
    [InlineData("GET /../admin", 400, null)]
    [InlineData("GET /%2e%2e/admin", 400, null)]
    [InlineData("GET /%2E./admin", 400, null)]
    [InlineData("GET /a/../../admin", 400, null)]
    [InlineData("GET /a\\..\\..\\admin", 400, null)]
    [InlineData("GET /a%5c..%5cadmin", 400, null)]
    [InlineData("POST /../admin", 400, null)]
    [InlineData("GET /a/../b?x=/../y", 200, "/base/b?x=/../y")]
    [InlineData("GET /a/./b/%2e/c", 200, "/base/a/b/c")]
    [InlineData("POST /a/../b", 200, "/base/b")]
    [InlineData("GET /a/b/..", 200, "/base/a/")]
    public async Task Dot_segments_never_leave_the_backend_base_path(string requestLine, int status, string? expectedTarget)
    {
        await using ScriptedBackend backend = ScriptedBackend.Start(async (stream, request) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend, o => o.Backends[0].Url = backend.Url + "/base/");

        string body = requestLine.StartsWith("POST", StringComparison.Ordinal) ? "Content-Length: 1\r\n\r\nA" : "\r\n";
        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, $"{requestLine} HTTP/1.1\r\nHost: proxy\r\n{body}");
        Assert.Equal(status, response?.Status);
        if (expectedTarget is null)
        {
            Assert.Empty(backend.Requests);
        }
        else
        {
            Assert.Equal(expectedTarget, Assert.Single(backend.Requests).Target);
        }
    }

    [Fact]
    public async Task Names_that_CGI_servers_would_read_as_framing_or_proxy_settings_do_not_pass()
    {
        await using ScriptedBackend backend = Backend(ScriptedBackend.OwnAsync);
        await using TestProxy proxy = await StartProxyAsync(backend, o => o.Forwarding.TrustedProxies.Add("127.0.0.1"));

        // From a trusted peer even: these are never forwarded.
        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /own/names HTTP/1.1\r\nHost: proxy\r\nProxy: http://evil:1\r\n"
            + "Transfer_Encoding: chunked\r\nContent_Length: 5\r\nProxy_Authorization: x\r\nKeep_Alive: 1\r\nX_Kept: yes\r\n\r\n");
        Assert.Equal(200, response?.Status);
        ScriptedRequest received = Assert.Single(backend.Requests);
        foreach (string name in new[] { "Proxy", "Transfer_Encoding", "Content_Length", "Proxy_Authorization", "Keep_Alive" })
        {
            Assert.Null(received.Header(name));
        }

        Assert.Equal("yes", received.Header("X_Kept"));
    }
}

public sealed class RequestRewritingOnEventLoopTests : RequestRewritingTests
{
    protected override ProxyPath Path => ProxyPath.EventLoop;
}

public sealed class RequestRewritingOnKestrelTests : RequestRewritingTests
{
    protected override ProxyPath Path => ProxyPath.Kestrel;
}

public sealed class RequestRewritingOnHttpClientTests : RequestRewritingTests
{
    protected override ProxyPath Path => ProxyPath.HttpClient;
}
