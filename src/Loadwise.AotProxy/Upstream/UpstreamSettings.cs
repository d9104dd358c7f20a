using Loadwise.AotProxy.Listener;
using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.Upstream;

/// <summary>What the upstream attempts need to know, validated and parsed.</summary>
/// <param name="ConnectTimeout">How long a connect may take.</param>
/// <param name="ResponseHeadersTimeout">How long the response head may take once the request is sent (504 after).</param>
/// <param name="IdleTimeout">How long a pooled connection may sit idle.</param>
/// <param name="EventLoop">The event loop the proxy's own connections run on, or null for the runtime's sockets.</param>
/// <example><code>var settings = new UpstreamSettings(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60), null);</code></example>
internal sealed record UpstreamSettings(TimeSpan ConnectTimeout, TimeSpan ResponseHeadersTimeout, TimeSpan IdleTimeout, EventLoopGroup? EventLoop)
{
    /// <summary>Gets how long a response body may go without a byte from the backend (zero: no limit).</summary>
    public TimeSpan ResponseBodyIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Gets the clock every timeout, deadline and expiry is measured on.</summary>
    public ProxyClock Clock { get; init; } = ProxyClock.System;

    /// <summary>Gets how https:// backends' certificates are checked.</summary>
    public BackendTrust Trust { get; init; } = BackendTrust.SystemStore;

    /// <summary>Gets how long an upgraded (WebSocket) connection may carry no byte either way (zero: no limit).</summary>
    public TimeSpan TunnelIdleTimeout { get; init; } = TimeSpan.FromMinutes(5);
}
