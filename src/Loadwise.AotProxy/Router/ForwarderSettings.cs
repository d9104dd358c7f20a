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

    /// <summary>Gets each backend's priority level, in backend order, or null when every backend is a level-0 primary.</summary>
    public int[]? Levels { get; init; }

    /// <summary>Gets the first backup level (one above the primaries'), or 32 when no backend is a backup.</summary>
    public int FirstBackupLevel { get; init; } = 32;

    /// <summary>Gets the slow-start filter, or null when slow start is off.</summary>
    public SlowStartFilter<Backends.BackendNode, string, NodeAccessor<Backends.BackendNode, string>>? SlowStart { get; init; }

    /// <summary>Gets the least latency a failed attempt reports to PeakEwma (<c>Strategy:FailurePenaltyMs</c>).</summary>
    public TimeSpan FailurePenalty { get; init; }
}
