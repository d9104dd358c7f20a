using System.Diagnostics.Metrics;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Threading;

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
    private readonly PerCoreCells _active = new(1); // read at scrape time: two measurements fewer per request
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _retries;

    public ProxyMetrics(object scope, IReadOnlyList<Backend> backends)
    {
        // The scope ties the meter to this proxy instance, so that several proxies in one process (tests) each export
        // only their own numbers.
        Meter = new Meter(new MeterOptions(MeterName) { Scope = scope });
        _requests = Meter.CreateCounter<long>("loadwise.requests", description: "Requests forwarded, by backend and response status code.");
        _dropped = Meter.CreateCounter<long>("loadwise.requests.dropped", description: "Requests not forwarded to completion, by reason.");
        Meter.CreateObservableUpDownCounter("loadwise.active_requests", () => _active.Sum(0), description: "Requests in flight through the proxy.");
        _duration = Meter.CreateHistogram<double>("loadwise.request.duration", unit: "s", description: "Time from request start to response end, by backend.");
        _retries = Meter.CreateCounter<long>("loadwise.retries", description: "Failed attempts retried on another backend (retried), or not retried because the retry budget was spent (budget_exhausted).");
        Meter.CreateObservableGauge("loadwise.backend.health", () => ObserveHealth(backends), description: "Backend health: 1 for the backend's current state, 0 for the others.");
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

    /// <summary>Exports the picks made in health panic (<c>loadwise_panic_picks_total</c>), read at scrape time.</summary>
    public void ObservePanicPicks(Func<long> picks) =>
        Meter.CreateObservableCounter("loadwise.panic_picks", picks, description: "Picks made among all backends because fewer than HealthChecks:PanicThresholdPercent were available.");

    /// <summary>Gets the requests in flight through the proxy right now (counted once per request, here).</summary>
    public long ActiveRequests => _active.Sum(0);

    public void RequestStarted() => _active.Add(0, 1);

    public void RequestEnded() => _active.Add(0, -1);

    public void Completed(Backend backend, int statusCode, double seconds)
    {
        _requests.Add(1, backend.MetricTag, CodeTag(statusCode));
        _duration.Record(seconds, backend.MetricTag);
    }

    public void Dropped(KeyValuePair<string, object?> reason) => _dropped.Add(1, reason);

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
