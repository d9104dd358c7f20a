using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Hosting;
using Microsoft.AspNetCore.Http;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>Three (or more) real in-process backends on ephemeral loopback ports and a real proxy in front of them.</summary>
internal sealed class TestProxy : IAsyncDisposable
{
    private TestProxy(DemoBackend[] backends, ProxyServer server, HttpClient client)
    {
        Backends = backends;
        Server = server;
        Client = client;
    }

    public DemoBackend[] Backends { get; }

    public ProxyServer Server { get; }

    public HttpClient Client { get; }

    public Uri BaseUri => Client.BaseAddress!;

    public int Port => BaseUri.Port;

    /// <summary>As <see cref="StartAsync"/>, with the listeners on the proxy's event loop or on Kestrel's socket transport.</summary>
    public static Task<TestProxy> StartOnAsync(bool eventLoop, Action<ProxyOptions>? configure = null, int backendCount = 3, TimeProvider? time = null) =>
        StartAsync(
            options =>
            {
                options.Performance.EventLoop = eventLoop;
                configure?.Invoke(options);
            },
            backendCount,
            time: time);

    /// <summary>
    /// Starts the backends and the proxy. <paramref name="route"/> (backend index, request) may answer a request first;
    /// <paramref name="time"/> is the proxy's clock (a fake one lets a test move time instead of waiting for it).
    /// </summary>
    public static async Task<TestProxy> StartAsync(
        Action<ProxyOptions>? configure = null, int backendCount = 3, int[]? weights = null, Func<int, HttpContext, Task<bool>>? route = null, TimeProvider? time = null)
    {
        var backends = new DemoBackend[backendCount];
        for (int i = 0; i < backendCount; i++)
        {
            backends[i] = await StartBackendAsync(i, "http://127.0.0.1:0", route);
        }

        var options = new ProxyOptions();
        options.Listen.Add("http://127.0.0.1:0");
        for (int i = 0; i < backendCount; i++)
        {
            options.Backends.Add(new BackendOptions { Id = backends[i].Name, Url = backends[i].Url, Weight = weights?[i] ?? 1 });
        }

        configure?.Invoke(options);
        List<string> problems = ProxyOptionsValidator.Validate(options);
        Assert.Empty(problems);
        ProxyServer server = ProxyServer.Create(options, handleSignals: false, consoleLogging: false, time: time);
        await server.StartAsync(TestContext.Current.CancellationToken);
        var client = new HttpClient(NewHandler()) { BaseAddress = new Uri(server.Urls[0]), Timeout = TimeSpan.FromSeconds(60) };
        return new TestProxy(backends, server, client) { _route = route };
    }

    private Func<int, HttpContext, Task<bool>>? _route;

    /// <summary>Starts backend <paramref name="index"/> again on the port it had (after <see cref="DemoBackend.KillAsync"/>).</summary>
    public async Task RestartBackendAsync(int index)
    {
        var url = new Uri(Backends[index].Url);
        await Backends[index].DisposeAsync();
        Backends[index] = await StartBackendAsync(index, $"http://127.0.0.1:{url.Port}", _route);
    }

    private static Task<DemoBackend> StartBackendAsync(int index, string url, Func<int, HttpContext, Task<bool>>? route) =>
        DemoBackend.StartAsync(
            $"b{index + 1}",
            url,
            route is null ? TestRoutes.HandleAsync : async context => await route(index, context) || await TestRoutes.HandleAsync(context));

    /// <summary>
    /// A client handler. <paramref name="localAddress"/> binds its side to another loopback address; with
    /// <paramref name="resetOnClose"/> a cancelled request resets its connection (RST) instead of closing it (FIN), as a
    /// crashed client or a browser tab's abort does: the proxy takes a FIN alone for a half-close and still answers.
    /// </summary>
    public static SocketsHttpHandler NewHandler(IPAddress? localAddress = null, bool resetOnClose = false) => new()
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        ConnectCallback = localAddress is null && !resetOnClose ? null : async (context, cancellationToken) =>
        {
            // Loopback is a /8: binding the client side to 127.0.0.x gives each simulated client its own address.
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                if (resetOnClose)
                {
                    socket.LingerState = new LingerOption(true, 0);
                }

                socket.Bind(new IPEndPoint(localAddress ?? IPAddress.Loopback, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    /// <summary>Sends GET requests and counts which backend (by name) answered each.</summary>
    public async Task<Dictionary<string, int>> CountAsync(int requests, string path = "/", HttpClient? client = null)
    {
        var counts = new Dictionary<string, int>();
        for (int i = 0; i < requests; i++)
        {
            string name = (await (client ?? Client).GetStringAsync(new Uri(BaseUri, path), TestContext.Current.CancellationToken)).Trim();
            counts[name] = counts.GetValueOrDefault(name) + 1;
        }

        return counts;
    }

    public string Scrape() => Server.Exporter.Scrape();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.StopAsync();
        await Server.DisposeAsync();
        foreach (DemoBackend backend in Backends)
        {
            await backend.DisposeAsync();
        }
    }
}

/// <summary>Extra backend endpoints the tests need besides the demo's.</summary>
internal static class TestRoutes
{
    private static readonly byte[] Pattern = CreatePattern();

    public static async Task<bool> HandleAsync(HttpContext context)
    {
        string path = context.Request.Path.Value ?? "/";
        HttpResponse response = context.Response;
        if (path == "/sink")
        {
            // Counts the body without keeping it.
            byte[] buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
            long total = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                total += read;
            }

            ArrayPool<byte>.Shared.Return(buffer);
            await response.WriteAsync(total.ToString(CultureInfo.InvariantCulture));
            return true;
        }

        if (path.StartsWith("/bytes/", StringComparison.Ordinal))
        {
            // Generates the body on the fly from one shared block.
            long remaining = long.Parse(path.AsSpan(7), CultureInfo.InvariantCulture);
            response.ContentLength = remaining;
            response.ContentType = "application/octet-stream";
            while (remaining > 0)
            {
                int chunk = (int)Math.Min(remaining, Pattern.Length);
                await response.Body.WriteAsync(Pattern.AsMemory(0, chunk), context.RequestAborted);
                remaining -= chunk;
            }

            return true;
        }

        if (path == "/hop")
        {
            response.Headers["Keep-Alive"] = "timeout=5";
            response.Headers["X-Named-By-Connection"] = "1";
            response.Headers["Connection"] = "X-Named-By-Connection";
            response.Headers["Proxy-Thing"] = "1";
            response.Headers["Upgrade"] = "h2c";
            response.Headers["X-Kept"] = "kept";
            response.Headers.Append("Set-Cookie", "a=1");
            response.Headers.Append("Set-Cookie", "b=2");
            await response.WriteAsync("hop");
            return true;
        }

        if (path.StartsWith("/status/", StringComparison.Ordinal))
        {
            response.StatusCode = int.Parse(path.AsSpan(8), CultureInfo.InvariantCulture);
            await response.WriteAsync("status");
            return true;
        }

        return false;
    }

    private static byte[] CreatePattern()
    {
        byte[] pattern = new byte[64 * 1024];
        for (int i = 0; i < pattern.Length; i++)
        {
            pattern[i] = (byte)(i * 31);
        }

        return pattern;
    }
}

/// <summary>Raw HTTP/1.1 over a socket: for headers HttpClient would not send as written.</summary>
internal static class RawHttp
{
    public static async Task<string> SendAsync(int port, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, TestContext.Current.CancellationToken);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request.Replace("\n", "\r\n", StringComparison.Ordinal)), TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        // Reads until the end of a chunked body (the connection may stay open) or until the server closes.
        var text = new StringBuilder();
        byte[] buffer = new byte[8192];
        int read;
        while (!text.ToString().EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal) && (read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
        {
            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        return text.ToString();
    }

    /// <summary>Returns the headers the demo backend's /headers endpoint reported, by lower-case name.</summary>
    public static Dictionary<string, string> ParseHeaderEcho(string body)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string line in body.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = line.IndexOf(": ", StringComparison.Ordinal);
            if (colon > 0)
            {
                headers[line[..colon]] = line[(colon + 2)..].TrimEnd('\r');
            }
        }

        return headers;
    }
}
