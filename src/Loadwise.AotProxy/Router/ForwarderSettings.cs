using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Logging;
using Loadwise.AotProxy.Upstream;

namespace Loadwise.AotProxy.Router;

/// <summary>What the router needs, validated and parsed.</summary>
/// <param name="Upstream">What the attempts need: timeouts and the event loop.</param>
/// <param name="PreserveHost">Whether the client's Host goes upstream instead of the backend's authority.</param>
/// <param name="XForwarded">Whether X-Forwarded-For, -Proto and -Host are set.</param>
/// <param name="Forwarded">The trust rules for forwarding headers.</param>
/// <example><code>var settings = new ForwarderSettings(upstream, PreserveHost: false, XForwarded: true, forwarded) { RetryCount = 1 };</code></example>
internal sealed record ForwarderSettings(UpstreamSettings Upstream, bool PreserveHost, bool XForwarded, ForwardedHeaders Forwarded)
{
    /// <summary>Gets the most retries of one request on other backends (0 = none).</summary>
    public int RetryCount { get; init; }

    /// <summary>
    /// Gets whether bodiless requests to plain-HTTP backends go over the proxy's own HTTP/1.1 connections
    /// (<see cref="DirectAttempt"/>) rather than HttpClient (<see cref="HttpClientAttempt"/>).
    /// </summary>
    public bool DirectHttp1 { get; init; }

    /// <summary>Gets the access log, or null when it is off.</summary>
    public AccessLog? AccessLog { get; init; }

    /// <summary>Gets whether WebSocket upgrade requests are tunnelled (<see cref="UpgradeAttempt"/>).</summary>
    public bool WebSockets { get; init; }
}
