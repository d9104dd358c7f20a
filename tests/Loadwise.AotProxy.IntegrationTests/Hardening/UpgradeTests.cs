namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// Upgrade requests on the proxy's four paths. Only a backend's real 101 opens a tunnel: a refused upgrade (any other
/// status) leaves the client connection an HTTP connection that the proxy goes on parsing, so a client cannot get a
/// raw pipe to a backend past the proxy's rules (the "WebSocket smuggling" of a proxy that trusts the request, not the
/// answer; nginx and HAProxy switch on the 101 alone too). A tunnel's backend connection is never pooled, and only
/// websocket is tunnelled: other Upgrade tokens (h2c) are dropped as hop-by-hop (RFC 9110 section 7.8).
/// </summary>
public abstract class UpgradeTests : HardeningTestBase
{
    private const string UpgradeHeaders = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    [Fact]
    public async Task A_refused_upgrade_leaves_an_http_connection_the_proxy_still_parses()
    {
        await using ScriptedBackend backend = Backend(async (stream, request) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 2\r\n\r\nno");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync($"GET /ws HTTP/1.1\r\nHost: proxy\r\n{UpgradeHeaders}\r\n");
        WireResponse? refused = await client.ReadResponseAsync();
        Assert.True(refused is { Status: 426 } && refused.Text == "no", $"got {refused?.Status} {refused?.Text}");

        await client.SendAsync("GET /own/same-client HTTP/1.1\r\nHost: proxy\r\n\r\n");
        WireResponse? second = await client.ReadResponseAsync();
        Assert.True(second is { Status: 200 } && second.Text == "own:/own/same-client", $"got {second?.Status} {second?.Text}");
        // Parsed and forwarded by the proxy (it adds X-Forwarded-For), not passed raw through a tunnel.
        Assert.NotNull(backend.Requests.Single(r => r.Target == "/own/same-client").Header("X-Forwarded-For"));
        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task A_101_tunnels_the_backend_bytes_to_its_client_alone_and_its_connection_is_never_reused()
    {
        await using ScriptedBackend backend = Backend(async (stream, request) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\ntunnel-bytes");
            await Task.Delay(Timeout.Infinite, Ct).ContinueWith(static _ => { }, TaskScheduler.Default);
            return false;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync($"GET /ws HTTP/1.1\r\nHost: proxy\r\n{UpgradeHeaders}\r\n");
        byte[]? head = await client.ReadUntilAsync("\r\n\r\n");
        Assert.NotNull(head);
        Assert.StartsWith("HTTP/1.1 101", System.Text.Encoding.Latin1.GetString(head), StringComparison.Ordinal);
        Assert.NotNull(await client.ReadUntilAsync("tunnel-bytes"));

        await AssertOthersServedAsync(proxy);
        ScriptedRequest upgrade = backend.Requests.Single(r => r.Target == "/ws");
        Assert.Equal("websocket", upgrade.Header("Upgrade"));
        Assert.All(backend.Requests.Where(r => r != upgrade), r => Assert.NotEqual(upgrade.Connection, r.Connection));
    }

    [Fact]
    public async Task An_upgrade_to_anything_but_websocket_is_an_ordinary_request_without_its_upgrade_header()
    {
        await using ScriptedBackend backend = Backend(ScriptedBackend.OwnAsync);
        await using TestProxy proxy = await StartProxyAsync(backend);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync("GET /h2c HTTP/1.1\r\nHost: proxy\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n");
        WireResponse? response = await client.ReadResponseAsync();

        Assert.True(response is { Status: 200 } && response.Text == "own:/h2c", $"got {response?.Status} {response?.Text}");
        ScriptedRequest received = backend.Requests.Single(r => r.Target == "/h2c");
        Assert.Null(received.Header("Upgrade"));
        Assert.Null(received.Header("Connection"));
        Assert.Null(received.Header("HTTP2-Settings"));
        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task HTTP2_Settings_is_dropped_even_when_Connection_does_not_name_it()
    {
        await using ScriptedBackend backend = Backend(ScriptedBackend.OwnAsync);
        await using TestProxy proxy = await StartProxyAsync(backend);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync("GET /settings HTTP/1.1\r\nHost: proxy\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n");
        WireResponse? response = await client.ReadResponseAsync();

        Assert.True(response is { Status: 200 } && response.Text == "own:/settings", $"got {response?.Status} {response?.Text}");
        ScriptedRequest received = backend.Requests.Single(r => r.Target == "/settings");
        Assert.Null(received.Header("HTTP2-Settings"));
        Assert.Null(received.Header("Upgrade"));
        await AssertOthersServedAsync(proxy);
    }
}

public sealed class UpgradeOnEventLoopTests : UpgradeTests
{
    protected override ProxyPath Path => ProxyPath.EventLoop;
}

public sealed class UpgradeOnSocketTransportTests : UpgradeTests
{
    protected override ProxyPath Path => ProxyPath.SocketTransport;
}

public sealed class UpgradeOnKestrelTests : UpgradeTests
{
    protected override ProxyPath Path => ProxyPath.Kestrel;
}

public sealed class UpgradeOnHttpClientTests : UpgradeTests
{
    protected override ProxyPath Path => ProxyPath.HttpClient;
}
