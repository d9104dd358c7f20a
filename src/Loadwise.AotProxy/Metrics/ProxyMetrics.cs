using System.Diagnostics.Metrics;
using Loadwise.AotProxy.Backends;

namespace Loadwise.AotProxy.Metrics;

/// <summary>
/// The proxy's instruments, in the Meter <c>Loadwise.Proxy</c>. Tags are cached (backend tag on <see cref="Backend"/>,
/// status codes and drop reasons here) so recording allocates nothing per request.
/// </summary>
internal sealed class ProxyMetrics : IDisposable
{
    public const string MeterName = "Loadwise.Proxy";

    /// <summary>The states of <c>loadwise_backend_health</c>, indexed by <see cref="HealthStatus"/>.</summary>
    public static readonly IReadOnlyList<string> HealthStates = HealthStatusNames.All;

    private static readonly KeyValuePair<string, object?>[] StateTags = HealthStates.Select(static s => new KeyValuePair<string, object?>("state", s)).ToArray();

    private static readonly KeyValuePair<string, object?>[] CodeTags = CreateCodeTags();

    private readonly Counter<long> _requests;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _reloads;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _retries;

    /// <summary>Creates the instruments; the observed ones read the configuration in force at each scrape.</summary>
    /// <param name="scope">The proxy instance the meter belongs to.</param>
    /// <param name="backends">The backends of the configuration in force.</param>
    /// <param name="inFlight">The requests in flight (each counted once, by the forwarder that carries it).</param>
    /// <param name="panicPicks">The picks made in health panic since start.</param>
    public ProxyMetrics(object scope, Func<IReadOnlyList<Backend>> backends, Func<long> inFlight, Func<long> panicPicks)
    {
        // The scope ties the meter to this proxy instance, so that several proxies in one process (tests) each export
        // only their own numbers.
        Meter = new Meter(new MeterOptions(MeterName) { Scope = scope });
        _requests = Meter.CreateCounter<long>("loadwise.requests", description: "Requests forwarded, by backend and response status code.");
        _dropped = Meter.CreateCounter<long>("loadwise.requests.dropped", description: "Requests not forwarded to completion, by reason.");
        Meter.CreateObservableUpDownCounter("loadwise.active_requests", inFlight, description: "Requests in flight through the proxy.");
        _duration = Meter.CreateHistogram<double>("loadwise.request.duration", unit: "s", description: "Time from request start to response end, by backend.");
        _retries = Meter.CreateCounter<long>("loadwise.retries", description: "Failed attempts retried on another backend (retried), or not retried because the retry budget was spent (budget_exhausted).");
        Meter.CreateObservableGauge("loadwise.backend.health", () => ObserveHealth(backends()), description: "Backend health: 1 for the backend's current state, 0 for the others.");
        Meter.CreateObservableCounter("loadwise.panic_picks", panicPicks, description: "Picks made among all backends because fewer than HealthChecks:PanicThresholdPercent were available.");
        _reloads = Meter.CreateCounter<long>("loadwise.config.reloads", description: "Configuration reloads, by result: applied, or invalid (the running configuration kept).");
    }

    public Meter Meter { get; }

    public static KeyValuePair<string, object?> DropReason(string reason) => new("reason", reason);

    public static readonly KeyValuePair<string, object?> NoBackend = DropReason("no_backend");

    public static readonly KeyValuePair<string, object?> ClientAbort = DropReason("client_abort");

    public static readonly KeyValuePair<string, object?> RateLimited = DropReason("rate_limited");

    public static readonly KeyValuePair<string, object?> BadFraming = DropReason("bad_framing");

    public static readonly KeyValuePair<string, object?> BadRequest = DropReason("bad_request");

    public static readonly KeyValuePair<string, object?> Retried = new("result", "retried");

    public static readonly KeyValuePair<string, object?> BudgetExhausted = new("result", "budget_exhausted");

    public void Retry(KeyValuePair<string, object?> result) => _retries.Add(1, result);

    /// <summary>The result tag of an applied reload.</summary>
    public static readonly KeyValuePair<string, object?> ReloadApplied = new("result", "applied");

    /// <summary>The result tag of a reload refused for an invalid configuration.</summary>
    public static readonly KeyValuePair<string, object?> ReloadInvalid = new("result", "invalid");

    /// <summary>Counts one configuration reload.</summary>
    public void Reloaded(KeyValuePair<string, object?> result) => _reloads.Add(1, result);

    public void Completed(Backend backend, int statusCode, double seconds)
    {
        _requests.Add(1, backend.MetricTag, CodeTag(statusCode));
        _duration.Record(seconds, backend.MetricTag);
    }

    public void Dropped(KeyValuePair<string, object?> reason) => _dropped.Add(1, reason);

    /// <summary>Exports the access-log lines dropped because the output could not keep up.</summary>
    public void ObserveAccessLogDrops(Func<long> dropped) =>
        Meter.CreateObservableCounter("loadwise.access_log.dropped", dropped, description: "Access-log lines dropped because the output (disk, pipe) could not keep up.");

    public void Dispose() => Meter.Dispose();

    private static KeyValuePair<string, object?> CodeTag(int statusCode) =>
        (uint)(statusCode - 100) < (uint)CodeTags.Length ? CodeTags[statusCode - 100] : new("code", statusCode.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static KeyValuePair<string, object?>[] CreateCodeTags()
    {
        var tags = new KeyValuePair<string, object?>[500];
        for (int i = 0; i < tags.Length; i++)
        {
            tags[i] = new("code", (i + 100).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return tags;
    }

    private static IEnumerable<Measurement<int>> ObserveHealth(IReadOnlyList<Backend> backends)
    {
        var measurements = new List<Measurement<int>>(backends.Count * HealthStates.Count);
        foreach (Backend backend in backends)
        {
            int current = (int)(backend.Health?.Status ?? HealthStatus.Healthy);
            for (int state = 0; state < HealthStates.Count; state++)
            {
                measurements.Add(new Measurement<int>(state == current ? 1 : 0, backend.MetricTag, StateTags[state]));
            }
        }

        return measurements;
    }
}
