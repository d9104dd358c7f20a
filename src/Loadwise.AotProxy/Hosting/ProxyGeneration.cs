using System.Net;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Health;
using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Listener;
using Loadwise.AotProxy.Logging;
using Loadwise.AotProxy.Metrics;
using Loadwise.AotProxy.RateLimiting;
using Loadwise.AotProxy.Router;
using Loadwise.AotProxy.Threading;
using Loadwise.AotProxy.Upstream;

namespace Loadwise.AotProxy.Hosting;

/// <summary>What every generation shares: the proxy's metrics, logger, clock and event loop.</summary>
/// <param name="Metrics">The proxy's instruments.</param>
/// <param name="CoreMetrics">Core's instruments (health transitions, selections).</param>
/// <param name="Logger">The proxy's logger.</param>
/// <param name="Clock">The proxy's clock.</param>
/// <param name="EventLoop">The event loop the backend connections run on, or null.</param>
/// <param name="AccessLog">The access log, or null when it is off.</param>
/// <param name="StateStore">Where health changes are also written (Redis, shared with other proxies), or null.</param>
/// <param name="FleetRateLimit">Makes the per-client limit shared with the other proxies (Redis), or null without shared state.</param>
internal sealed record GenerationServices(
    ProxyMetrics Metrics,
    DiagnosticsMetricsCollector CoreMetrics,
    ILogger Logger,
    ProxyClock Clock,
    EventLoopGroup? EventLoop,
    AccessLog? AccessLog,
    IStateStore? StateStore,
    Func<RateLimitingOptions, IFleetRateLimit>? FleetRateLimit = null);

/// <summary>
/// One configuration's running parts: its backends, their health and probes, the client rate limiter, and the
/// forwarder over them. A reload builds the next generation from the one in force: a backend whose id and URL stay is
/// the same object (its in-flight count, drain flag and last-minute figures carry on), its health state is copied,
/// and its pooled connections are taken over; the client rate limiter is kept while its settings are unchanged.
/// </summary>
/// <example><code>
/// ProxyGeneration first = ProxyGeneration.Create(options, previous: null, services);
/// first.Start();
/// ProxyGeneration next = ProxyGeneration.Create(reloaded, first, services);
/// </code></example>
internal sealed class ProxyGeneration
{
    private readonly ActiveHealthProber _prober;
    private bool _proberStopped;

    private ProxyGeneration(ProxyOptions options, Forwarder forwarder, ActiveHealthProber prober, ClientRateLimiter? rateLimiter)
    {
        Options = options;
        SlowStart = forwarder.SlowStart;
        Forwarder = forwarder;
        _prober = prober;
        RateLimiter = rateLimiter;
    }

    /// <summary>Gets the configuration this generation runs.</summary>
    public ProxyOptions Options { get; }

    /// <summary>Gets the forwarder over this generation's backends.</summary>
    public Forwarder Forwarder { get; }

    /// <summary>Gets the slow-start filter (kept by the next generation while the <c>SlowStart</c> section stays the same), or null.</summary>
    public SlowStartFilter<BackendNode, string, NodeAccessor<BackendNode, string>>? SlowStart { get; }

    /// <summary>Gets the per-client rate limiter, or null when rate limiting is off.</summary>
    public ClientRateLimiter? RateLimiter { get; }

    /// <summary>Builds the generation of <paramref name="options"/> (validated), taking over what it can from <paramref name="previous"/>.</summary>
    public static ProxyGeneration Create(ProxyOptions options, ProxyGeneration? previous, GenerationServices services)
    {
        Backend[] backends = BackendsOf(options, previous?.Forwarder.Backends);
        var trusted = new IPNetwork[options.Forwarding.TrustedProxies.Count];
        for (int i = 0; i < trusted.Length; i++)
        {
            ForwardedHeaders.TryParseNetwork(options.Forwarding.TrustedProxies[i], out trusted[i]);
        }

        var forwarded = new ForwardedHeaders(trusted, options.Forwarding.UntrustedHeaders);
        SelectionStrategy strategy = StrategyFactory.Create(options.Strategy, backends.Length, services.Clock.Time);
        string strategyName = StrategyNames.Canonical(options.Strategy.Name!);
        HashKeySource? hashKey = null;
        if (StrategyNames.IsKeyed(strategyName))
        {
            HashKeyKinds.TryParse(options.Strategy.HashKey.Source, out HashKeyKind kind);
            hashKey = new HashKeySource(kind, options.Strategy.HashKey.Name, forwarded);
        }

        var health = new BackendHealth(backends, options.HealthChecks, services.CoreMetrics, services.Logger, services.Clock.Time, services.StateStore);
        if (previous is not null)
        {
            // Health carries over: a backend that was ejected stays out, one resting stays resting.
            HealthTracker<string> before = previous.Forwarder.Health.Tracker;
            foreach (Backend backend in backends)
            {
                if (previous.Forwarder.Backends.Contains(backend))
                {
                    health.Tracker.Apply(backend.Id, before.CaptureState(backend.Id));
                }
            }
        }

        // After the health state carried over: copying it raises no Recovering/Unhealthy -> Healthy change.
        SlowStartFilter<BackendNode, string, NodeAccessor<BackendNode, string>>? slowStart = SlowStartRamps.Create(options.SlowStart, services.Clock.Time, previous?.SlowStart);
        if (slowStart is not null)
        {
            SlowStartRamps.Follow(slowStart, health.Tracker);
            foreach (Backend backend in backends)
            {
                if (previous is not null && !previous.Forwarder.Backends.Contains(backend))
                {
                    slowStart.Start(backend.Id); // added by this reload
                }
            }
        }

        int[]? levels = BackendLevels.Of(options.Backends, out int firstBackup);
        var trust = new BackendTrust(options.BackendTls.CaBundleFile, options.BackendTls.DangerouslyAcceptAnyServerCertificate);
        var prober = new ActiveHealthProber(backends, health, options.HealthChecks, services.Clock.Time, trust.ClientOptions());
        ClientRateLimiter? rateLimiter = !options.RateLimiting.Enabled ? null
            : previous?.RateLimiter is { } kept && ProxyOptionsJson.ChangedKeys(previous.Options, options, ["RateLimiting", "Forwarding"]).Count == 0 ? kept
            : new ClientRateLimiter(options.RateLimiting, forwarded, options.RateLimiting.Shared ? services.FleetRateLimit?.Invoke(options.RateLimiting) : null);
        var retryBudget = new RetryBudget(TimeSpan.FromMilliseconds(options.Retries.BudgetWindowMs), options.Retries.BudgetPercent, options.Retries.BudgetMinRetries);
        var upstream = new UpstreamSettings(
            TimeSpan.FromMilliseconds(options.Timeouts.ConnectMs),
            TimeSpan.FromMilliseconds(options.Timeouts.ResponseHeadersMs),
            TimeSpan.FromMilliseconds(options.Timeouts.IdleMs),
            services.EventLoop)
        {
            ResponseBodyIdleTimeout = TimeSpan.FromMilliseconds(options.Timeouts.ResponseBodyIdleMs),
            Clock = services.Clock,
            TunnelIdleTimeout = TimeSpan.FromMilliseconds(options.WebSocket.IdleTimeoutMs),
            Trust = trust,
        };
        var settings = new ForwarderSettings(
            upstream,
            string.Equals(options.Forwarding.HostHeader, "Preserve", StringComparison.OrdinalIgnoreCase),
            options.Forwarding.XForwarded,
            forwarded)
        {
            RetryCount = options.Retries.Count,
            DirectHttp1 = options.Performance.DirectHttp1,
            AccessLog = services.AccessLog,
            WebSockets = options.WebSocket.Enabled,
            Levels = levels,
            FirstBackupLevel = firstBackup,
            SlowStart = slowStart,
            FailurePenalty = TimeSpan.FromMilliseconds(options.Strategy.FailurePenaltyMs),
        };
        var forwarder = new Forwarder(
            backends, strategy, hashKey, settings, services.Metrics, services.CoreMetrics, strategyName, services.Logger, health, retryBudget, rateLimiter, previous?.Forwarder);
        return new ProxyGeneration(options, forwarder, prober, rateLimiter);
    }

    /// <summary>Starts the active probes.</summary>
    public void Start() => _prober.Start();

    /// <summary>Stops the active probes (the first step of leaving service).</summary>
    public async ValueTask StopProbingAsync()
    {
        if (!_proberStopped)
        {
            _proberStopped = true;
            await _prober.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Closes what this generation holds once its requests finished, except what <paramref name="next"/> took over
    /// (everything at shutdown, when there is no next).
    /// </summary>
    public async ValueTask RetireAsync(ProxyGeneration? next)
    {
        await StopProbingAsync().ConfigureAwait(false);
        Forwarder.Retire(next?.Forwarder);
        if (RateLimiter is not null && !ReferenceEquals(RateLimiter, next?.RateLimiter))
        {
            await RateLimiter.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The backends of <paramref name="options"/>: those of <paramref name="previous"/> with the same id and URL are kept.</summary>
    private static Backend[] BackendsOf(ProxyOptions options, IReadOnlyList<Backend>? previous)
    {
        var backends = new Backend[options.Backends.Count];
        for (int i = 0; i < backends.Length; i++)
        {
            BackendOptions configured = options.Backends[i];
            var url = new Uri(configured.Url!);
            Backend? kept = previous?.FirstOrDefault(b => b.Id == configured.Id && b.Url == url && b.Http2 == configured.Http2);
            if (kept is not null)
            {
                kept.Reconfigure(configured.Weight, configured.Capacity);
                backends[i] = kept;
            }
            else
            {
                backends[i] = new Backend(configured.Id!, url, configured.Weight, configured.Capacity) { Http2 = configured.Http2 };
            }
        }

        return backends;
    }
}
