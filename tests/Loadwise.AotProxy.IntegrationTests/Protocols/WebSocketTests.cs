using System.Net.WebSockets;
using System.Text;

namespace Loadwise.AotProxy.IntegrationTests.Protocols;

/// <summary>
/// WebSocket through the proxy with <see cref="ClientWebSocket"/> against the demo backends' Kestrel echo at /ws: the
/// 101 relayed and the sockets spliced (1,000 messages each way, a 1 MiB frame, pings answered), close codes relayed
/// both ways, a backend that dies mid-socket, the socket counted while open and kept past the response-headers
/// timeout, and its own idle timeout.
/// </summary>
public sealed class WebSocketTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_thousand_messages_each_way_come_back_in_order()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(backendCount: 1);
        using ClientWebSocket socket = await ConnectAsync(proxy);

        Task sending = Task.Run(
            async () =>
            {
                for (int i = 0; i < 1000; i++)
                {
                    await socket.SendAsync(Encoding.UTF8.GetBytes("message " + i), WebSocketMessageType.Text, true, Ct);
                }
            },
            Ct);
        for (int i = 0; i < 1000; i++)
        {
            (WebSocketMessageType type, byte[] data) = await ReceiveMessageAsync(socket);
            Assert.Equal(WebSocketMessageType.Text, type);
            Assert.Equal("message " + i, Encoding.UTF8.GetString(data));
        }

        await sending;
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", Ct);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
    }

    [Fact]
    public async Task A_one_mebibyte_binary_frame_crosses_intact()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(backendCount: 1);
        using ClientWebSocket socket = await ConnectAsync(proxy);
        byte[] payload = new byte[1024 * 1024];
        Random.Shared.NextBytes(payload);

        await socket.SendAsync(payload, WebSocketMessageType.Binary, true, Ct);
        (WebSocketMessageType type, byte[] echoed) = await ReceiveMessageAsync(socket);

        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Equal(payload, echoed);
    }

    [Fact]
    public async Task Pings_are_answered_through_the_proxy()
    {
        // With a keep-alive timeout the client sends PINGs and aborts the socket when no PONG comes back in time.
        await using TestProxy proxy = await TestProxy.StartAsync(backendCount: 1);
        using ClientWebSocket socket = await ConnectAsync(proxy, options =>
        {
            options.KeepAliveInterval = TimeSpan.FromMilliseconds(100);
            options.KeepAliveTimeout = TimeSpan.FromMilliseconds(1000);
        });

        Task<(WebSocketMessageType, byte[])> receive = ReceiveMessageAsync(socket);
        await Task.Delay(2000, Ct); // twenty pings, each needing its pong
        await socket.SendAsync("after pings"u8.ToArray(), WebSocketMessageType.Text, true, Ct);

        Assert.Equal("after pings", Encoding.UTF8.GetString((await receive).Item2));
        Assert.Equal(WebSocketState.Open, socket.State);
    }

    [Fact]
    public async Task Close_codes_are_relayed_both_ways()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(backendCount: 1);
        using (ClientWebSocket clientCloses = await ConnectAsync(proxy))
        {
            await clientCloses.CloseAsync((WebSocketCloseStatus)4001, "client says bye", Ct);
            Assert.Equal((WebSocketCloseStatus)4001, clientCloses.CloseStatus);
            Assert.Equal("client says bye", clientCloses.CloseStatusDescription);
        }

        using ClientWebSocket backendCloses = await ConnectAsync(proxy);
        await backendCloses.SendAsync("close:4002"u8.ToArray(), WebSocketMessageType.Text, true, Ct);
        WebSocketReceiveResult result = await backendCloses.ReceiveAsync(new byte[64], Ct);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal((WebSocketCloseStatus)4002, result.CloseStatus);
        Assert.Equal("closed by the backend", result.CloseStatusDescription);
    }

    [Fact]
    public async Task A_backend_that_dies_mid_socket_ends_the_client_socket_and_other_clients_go_on()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(backendCount: 2);
        using ClientWebSocket socket = await ConnectAsync(proxy);
        await socket.SendAsync("hello"u8.ToArray(), WebSocketMessageType.Text, true, Ct);
        await ReceiveMessageAsync(socket);
        DemoBackendIndex victim = await WhichBackendAsync(proxy);

        await proxy.Backends[victim.Index].KillAsync();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            WebSocketReceiveResult result = await socket.ReceiveAsync(new byte[64], timeout.Token);
            Assert.Fail($"got a {result.MessageType} frame, expected the socket to end");
        });
        Assert.False(timeout.IsCancellationRequested, "the client socket was not ended within 10 s");
        Assert.Equal(proxy.Backends[1 - victim.Index].Name, (await proxy.Client.GetStringAsync("/", Ct)).Trim());
    }

    [Fact]
    public async Task An_open_socket_counts_as_active_and_outlives_the_response_headers_timeout()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Timeouts.ResponseHeadersMs = 200, backendCount: 1);
        using ClientWebSocket socket = await ConnectAsync(proxy);

        await Task.Delay(800, Ct);
        Assert.Equal(1, proxy.Server.InFlight);
        Assert.Contains("loadwise_active_requests 1", proxy.Scrape(), StringComparison.Ordinal);
        await socket.SendAsync("still here"u8.ToArray(), WebSocketMessageType.Text, true, Ct);
        Assert.Equal("still here", Encoding.UTF8.GetString((await ReceiveMessageAsync(socket)).Item2));

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, Ct);
        for (int i = 0; i < 100 && proxy.Server.InFlight != 0; i++)
        {
            await Task.Delay(20, Ct);
        }

        Assert.Equal(0, proxy.Server.InFlight);
    }

    [Fact]
    public async Task A_socket_silent_for_the_idle_timeout_is_closed()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.WebSocket.IdleTimeoutMs = 300, backendCount: 1);
        using ClientWebSocket socket = await ConnectAsync(proxy);
        await socket.SendAsync("hi"u8.ToArray(), WebSocketMessageType.Text, true, Ct);
        await ReceiveMessageAsync(socket);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        long started = Environment.TickCount64;
        await Assert.ThrowsAnyAsync<Exception>(async () => await socket.ReceiveAsync(new byte[64], timeout.Token));

        Assert.False(timeout.IsCancellationRequested, "the idle socket was not closed within 10 s");
        Assert.InRange(Environment.TickCount64 - started, 200, 5_000);
    }

    [Fact]
    public async Task On_drain_an_open_socket_is_closed_after_the_drain_timeout()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Drain.TimeoutMs = 500, backendCount: 1);
        using ClientWebSocket socket = await ConnectAsync(proxy);
        await socket.SendAsync("hi"u8.ToArray(), WebSocketMessageType.Text, true, Ct);
        await ReceiveMessageAsync(socket);
        Task<WebSocketReceiveResult> receive = socket.ReceiveAsync(new byte[64], Ct);

        long started = Environment.TickCount64;
        Task stopping = proxy.Server.StopAsync(Ct);
        await Assert.ThrowsAnyAsync<Exception>(async () => await receive.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        await stopping;

        Assert.False(receive.IsCanceled, "the socket outlived the drain");
        Assert.InRange(Environment.TickCount64 - started, 300, 5_000);
    }

    [Fact]
    public async Task A_wss_socket_on_an_https_listener_is_tunnelled_too()
    {
        using var certificates = new TestCertificates();
        (string certificateFile, string keyFile) = certificates.WritePem(certificates.Issue("localhost"), "site");
        await using TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                o.Listen.Add("https://127.0.0.1:0");
                var listener = new Configuration.TlsListenerOptions { Url = "https://127.0.0.1:0" };
                listener.Certificates.Add(new Configuration.CertificateOptions { CertificateFile = certificateFile, KeyFile = keyFile });
                o.Tls.Listeners.Add(listener);
            },
            backendCount: 1);
        int port = new Uri(proxy.Server.Urls.Single(u => u.StartsWith("https://", StringComparison.Ordinal))).Port;
        using var socket = new ClientWebSocket();
        socket.Options.RemoteCertificateValidationCallback = static (_, _, _, _) => true;

        await socket.ConnectAsync(new Uri($"wss://127.0.0.1:{port}/ws"), Ct);
        await socket.SendAsync("over tls"u8.ToArray(), WebSocketMessageType.Text, true, Ct);

        Assert.Equal("over tls", Encoding.UTF8.GetString((await ReceiveMessageAsync(socket)).Item2));
    }

    private static async Task<ClientWebSocket> ConnectAsync(TestProxy proxy, Action<ClientWebSocketOptions>? configure = null)
    {
        var socket = new ClientWebSocket();
        configure?.Invoke(socket.Options);
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{proxy.Port}/ws"), Ct);
        return socket;
    }

    private static async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveMessageAsync(ClientWebSocket socket)
    {
        using var message = new MemoryStream();
        byte[] buffer = new byte[64 * 1024];
        while (true)
        {
            WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, Ct);
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return (result.MessageType, message.ToArray());
            }
        }
    }

    private static async Task<DemoBackendIndex> WhichBackendAsync(TestProxy proxy)
    {
        // The socket went to the backend that has counted one more request than the other.
        await Task.Yield();
        return new DemoBackendIndex(proxy.Backends[0].Requests >= 1 && proxy.Backends[1].Requests == 0 ? 0 : 1);
    }

    private readonly record struct DemoBackendIndex(int Index);
}
