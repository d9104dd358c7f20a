using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>Which of the proxy's request paths a hardening test runs on.</summary>
public enum ProxyPath
{
    /// <summary>The raw HTTP/1.1 codec on the proxy's own event loop (the default).</summary>
    EventLoop,

    /// <summary>The raw HTTP/1.1 codec on Kestrel's socket transport (the event loop off).</summary>
    SocketTransport,

    /// <summary>Kestrel's HTTP layer for every request, with the proxy's own backend connections.</summary>
    Kestrel,

    /// <summary>Kestrel's HTTP layer and HttpClient for the backend (as for https backends), on the event loop.</summary>
    HttpClient,
}

/// <summary>
/// The frame of the raw-socket hardening tests: one scripted backend behind a real proxy on one of its paths. Every
/// case checks what the client received, what the backend received, and that <b>another client's</b> next request,
/// on a fresh connection, still gets its own response.
/// </summary>
public abstract class HardeningTestBase
{
    protected abstract ProxyPath Path { get; }

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Starts a proxy in front of <paramref name="backend"/> alone, probes and retries off.</summary>
    internal Task<TestProxy> StartProxyAsync(ScriptedBackend backend, Action<ProxyOptions>? configure = null, TimeProvider? time = null)
    {
        ProxyPath path = Path;
        return TestProxy.StartAsync(options =>
        {
            options.Backends.Clear();
            options.Backends.Add(new BackendOptions { Id = "scripted", Url = backend.Url });
            options.HealthChecks.Enabled = false;
            options.Retries.Count = 0;
            options.Performance.EventLoop = path != ProxyPath.SocketTransport;
            options.Performance.FastPath = path is ProxyPath.EventLoop or ProxyPath.SocketTransport;
            options.Performance.DirectHttp1 = path != ProxyPath.HttpClient;
            configure?.Invoke(options);
        }, backendCount: 0, time: time);
    }

    /// <summary>
    /// A backend that answers <c>/own/…</c> requests well (with their own target) and everything else with
    /// <paramref name="misbehave"/>.
    /// </summary>
    internal static ScriptedBackend Backend(Func<System.Net.Sockets.NetworkStream, ScriptedRequest, Task<bool>> misbehave) =>
        ScriptedBackend.Start((stream, request) => request.Target.StartsWith("/own/", StringComparison.Ordinal)
            ? ScriptedBackend.OwnAsync(stream, request)
            : misbehave(stream, request));

    /// <summary>
    /// Other clients, each on a fresh connection, get their own responses: run a few times, so that every pooled
    /// backend connection the proxy might hand out is tried.
    /// </summary>
    internal static async Task AssertOthersServedAsync(TestProxy proxy, int clients = 4)
    {
        for (int i = 0; i < clients; i++)
        {
            string target = $"/own/{Guid.NewGuid():N}";
            WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, $"GET {target} HTTP/1.1\r\nHost: proxy\r\n\r\n");
            Assert.NotNull(response);
            Assert.Equal(200, response.Status);
            Assert.Equal("own:" + target, response.Text);
        }
    }
}
