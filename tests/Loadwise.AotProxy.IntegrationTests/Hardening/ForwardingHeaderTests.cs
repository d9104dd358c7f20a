namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// Forwarding headers from a peer outside Forwarding:TrustedProxies never reach the backend, however they are spelled
/// (CGI-style servers read <c>X_Forwarded_For</c> as <c>X-Forwarded-For</c>); a trusted proxy's are kept.
/// </summary>
public abstract class ForwardingHeaderTests : HardeningTestBase
{
    private const string Spoofed = "Forwarded: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Port: 1\r\nX-Forwarded-Prefix: /admin\r\n"
        + "X_Forwarded_For: 6.6.6.6\r\nx_real_ip: 6.6.6.6\r\nX-Client-IP: 6.6.6.6\r\nTrue-Client-IP: 6.6.6.6\r\nX-Forwarded-Ssl: on\r\nX-Kept: yes\r\n";

    [Fact]
    public async Task An_untrusted_peer_cannot_send_forwarding_headers()
    {
        await using ScriptedBackend backend = Backend(ScriptedBackend.OwnAsync);
        await using TestProxy proxy = await StartProxyAsync(backend, o => o.Forwarding.TrustedProxies.Add("10.0.0.0/8"));

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /own/spoof HTTP/1.1\r\nHost: proxy\r\nX-Forwarded-For: 6.6.6.6\r\n" + Spoofed + "\r\n");
        Assert.Equal(200, response?.Status);
        ScriptedRequest received = Assert.Single(backend.Requests);
        Assert.DoesNotContain("6.6.6.6", received.Head, StringComparison.Ordinal);
        Assert.DoesNotContain("/admin", received.Head, StringComparison.Ordinal);
        Assert.Null(received.Header("X-Forwarded-Port"));
        Assert.Null(received.Header("X-Forwarded-Ssl"));
        Assert.Equal("yes", received.Header("X-Kept"));
        Assert.Equal("127.0.0.1", received.Header("X-Forwarded-For"));
        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task An_untrusted_peers_forwarding_headers_are_removed_even_with_X_Forwarded_off()
    {
        await using ScriptedBackend backend = Backend(ScriptedBackend.OwnAsync);
        await using TestProxy proxy = await StartProxyAsync(backend, o => o.Forwarding.XForwarded = false);

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /own/off HTTP/1.1\r\nHost: proxy\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n" + Spoofed + "\r\n");
        Assert.Equal(200, response?.Status);
        ScriptedRequest received = Assert.Single(backend.Requests);
        Assert.DoesNotContain("6.6.6.6", received.Head, StringComparison.Ordinal);
        Assert.Null(received.Header("X-Forwarded-Proto"));
        Assert.Null(received.Header("X-Forwarded-For"));
    }

    [Fact]
    public async Task A_trusted_proxy_keeps_its_forwarding_headers()
    {
        await using ScriptedBackend backend = Backend(ScriptedBackend.OwnAsync);
        await using TestProxy proxy = await StartProxyAsync(backend, o => o.Forwarding.TrustedProxies.Add("127.0.0.1"));

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /own/trusted HTTP/1.1\r\nHost: proxy\r\nX-Real-IP: 1.2.3.4\r\nForwarded: for=1.2.3.4\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n");
        Assert.Equal(200, response?.Status);
        ScriptedRequest received = Assert.Single(backend.Requests);
        Assert.Equal("1.2.3.4", received.Header("X-Real-IP"));
        Assert.Equal("for=1.2.3.4", received.Header("Forwarded"));
        Assert.Equal("1.2.3.4, 127.0.0.1", received.Header("X-Forwarded-For"));
    }

    [Fact]
    public async Task The_removed_set_is_configurable()
    {
        await using ScriptedBackend backend = Backend(ScriptedBackend.OwnAsync);
        await using TestProxy proxy = await StartProxyAsync(backend, o => o.Forwarding.UntrustedHeaders = ["X-Tenant"]);

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /own/set HTTP/1.1\r\nHost: proxy\r\nX_Tenant: evil\r\nX-Real-IP: 1.2.3.4\r\n\r\n");
        Assert.Equal(200, response?.Status);
        ScriptedRequest received = Assert.Single(backend.Requests);
        Assert.Null(received.Header("X_Tenant"));
        Assert.Equal("1.2.3.4", received.Header("X-Real-IP"));
    }
}

public sealed class ForwardingHeadersOnEventLoopTests : ForwardingHeaderTests
{
    protected override ProxyPath Path => ProxyPath.EventLoop;
}

public sealed class ForwardingHeadersOnSocketTransportTests : ForwardingHeaderTests
{
    protected override ProxyPath Path => ProxyPath.SocketTransport;
}

public sealed class ForwardingHeadersOnKestrelTests : ForwardingHeaderTests
{
    protected override ProxyPath Path => ProxyPath.Kestrel;
}

public sealed class ForwardingHeadersOnHttpClientTests : ForwardingHeaderTests
{
    protected override ProxyPath Path => ProxyPath.HttpClient;
}
