using System.Globalization;
using System.Net.Http.Headers;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Logging;
using Loadwise.AotProxy.Backends;

namespace Loadwise.AotProxy.Health;

/// <summary>
/// The proxy's view of backend health: one Core <see cref="HealthTracker{TId}"/> fed by active probes and by the outcome
/// of every forwarded request, and the Core <see cref="HealthFilter{TNode, TId, TAccessor}"/> that keeps Unhealthy and
/// rate-limited backends out of the strategy's candidates unless that leaves too few (panic). The state machine is Core's
/// <see cref="ConsecutiveFailurePolicy"/>; this class only decides what each response means.
/// </summary>
internal sealed class BackendHealth
{
    private readonly StatusCodeSet _failureCodes;
    private readonly TimeSpan _maxRetryAfter;
    private readonly bool _passive;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    public BackendHealth(IReadOnlyList<Backend> backends, HealthCheckOptions options, IMetricsCollector metrics, ILogger logger, TimeProvider? time = null, IStateStore? stateStore = null)
    {
        _time = time ?? TimeProvider.System;
        StatusCodeSet.TryParse(options.Passive.FailureStatusCodes, out _failureCodes);
        _maxRetryAfter = TimeSpan.FromMilliseconds(options.Passive.MaxRetryAfterMs);
        _passive = options.Passive.Enabled;
        _logger = logger;
        ProbeInterval = TimeSpan.FromMilliseconds(options.IntervalMs);
        Tracker = new HealthTracker<string>(new HealthTrackerOptions
        {
            Policy = new ConsecutiveFailurePolicy(options.UnhealthyThreshold, options.HealthyThreshold, ProbeInterval),
            Metrics = metrics,
            TimeProvider = _time,
            StateStore = stateStore,
            DefaultRetryAfter = TimeSpan.FromMilliseconds(Math.Min(options.Passive.DefaultRetryAfterMs, options.Passive.MaxRetryAfterMs)),
        });
        foreach (Backend backend in backends)
        {
            backend.Health = Tracker.GetHandle(backend.Id);
        }

        Tracker.HealthChanged += OnHealthChanged;
        Filter = new PanicFilter<BackendNode, HealthFilter<BackendNode, string, NodeAccessor<BackendNode, string>>>(
            new HealthFilter<BackendNode, string, NodeAccessor<BackendNode, string>>(Tracker), options.PanicThresholdPercent);
        Filter.PanicChanged += inPanic => Log.Panic(_logger, inPanic ? "entered: fewer backends available than Health:PanicThresholdPercent; picking among all of them" : "over: picking among available backends again");
    }

    public HealthTracker<string> Tracker { get; }

    /// <summary>
    /// Gets the filter the router picks through: Core's health filter, which gives way (panic) when it would leave fewer
    /// than <see cref="HealthCheckOptions.PanicThresholdPercent"/> of the backends, so that no client, by provoking
    /// errors or rate limits, can take every backend out.
    /// </summary>
    public PanicFilter<BackendNode, HealthFilter<BackendNode, string, NodeAccessor<BackendNode, string>>> Filter { get; }

    public TimeSpan ProbeInterval { get; }

    /// <summary>
    /// Says what a backend's response means for its health: 429, and 503 with Retry-After, rest the backend for the
    /// time it asked (capped); a configured failure status is a failure; anything else a success.
    /// </summary>
    public Outcome Classify(int statusCode, HttpResponseHeaders headers) =>
        Classify(statusCode, statusCode is 429 or 503 && headers.NonValidated.TryGetValues("Retry-After", out HeaderStringValues values) ? values.ToString() : null);

    /// <summary>Returns whether <paramref name="statusCode"/> is one of <c>HealthChecks:Passive:FailureStatusCodes</c>.</summary>
    public bool IsFailureStatus(int statusCode) => _failureCodes.Contains(statusCode);

    /// <summary>Says what a backend's response means for its health, given its Retry-After header's value (or null).</summary>
    public Outcome Classify(int statusCode, string? retryAfterHeader)
    {
        if (statusCode == 429 || statusCode == 503)
        {
            TimeSpan? retryAfter = TryParseRetryAfter(retryAfterHeader, _time.GetUtcNow(), out TimeSpan parsed)
                ? (parsed > _maxRetryAfter ? _maxRetryAfter : parsed)
                : null;
            if (statusCode == 429 || retryAfter is not null)
            {
                return Outcome.RateLimited(retryAfter);
            }
        }

        return _failureCodes.Contains(statusCode) ? Outcome.Failure : Outcome.Success;
    }

    /// <summary>
    /// Reports the outcome of a forwarded request. A success does not revive an Unhealthy backend (a request that began
    /// before it was ejected can finish after): only a probe brings it back, through Recovering.
    /// </summary>
    public void ReportPassive(Backend backend, Outcome outcome)
    {
        if (!_passive || (outcome.Kind == OutcomeKind.Success && backend.Health!.Status == HealthStatus.Unhealthy))
        {
            return;
        }

        Tracker.Report(backend.Id, outcome);
    }

    /// <summary>The Retry-After, in whole seconds (at least 1), for a 503 sent because no backend is available.</summary>
    public int RetryAfterSeconds(IReadOnlyList<Backend> backends)
    {
        DateTimeOffset now = _time.GetUtcNow();
        TimeSpan wait = ProbeInterval;
        bool anyUnhealthy = false;
        TimeSpan soonest = TimeSpan.MaxValue;
        foreach (Backend backend in backends)
        {
            NodeHealth<string> health = backend.Health!;
            if (health.Status == HealthStatus.Unhealthy)
            {
                anyUnhealthy = true;
            }
            else if (health.RetryAt is { } retryAt && retryAt - now < soonest)
            {
                soonest = retryAt - now;
            }
        }

        if (soonest != TimeSpan.MaxValue && (!anyUnhealthy || soonest < wait))
        {
            wait = soonest;
        }

        // Rounded up to whole seconds, less 50 ms: the tracker's clock ticks coarsely (Environment.TickCount64), so a rest
        // of exactly 5 s can read as 5.00001 s just after it began.
        return Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds - 0.05));
    }

    /// <summary>Parses a Retry-After value: delta-seconds or an HTTP date (RFC 9110 section 10.2.3).</summary>
    internal static bool TryParseRetryAfter(string? value, DateTimeOffset now, out TimeSpan retryAfter)
    {
        retryAfter = default;
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        value = value.Trim();
        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds))
        {
            retryAfter = TimeSpan.FromSeconds(Math.Min(seconds, (long)TimeSpan.MaxValue.TotalSeconds - 1));
            return true;
        }

        if (DateTimeOffset.TryParseExact(value, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset date))
        {
            retryAfter = date > now ? date - now : TimeSpan.Zero;
            return true;
        }

        return false;
    }

    private void OnHealthChanged(object? sender, HealthChangedEventArgs<string> e) =>
        Log.BackendHealthChanged(
            _logger,
            e.To == HealthStatus.Unhealthy ? LogLevel.Warning : LogLevel.Information,
            e.NodeId,
            e.From.ToName(),
            e.To.ToName());
}
