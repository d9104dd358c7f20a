using System.Diagnostics.Metrics;

namespace Loadwise;

/// <summary>
/// A metrics hook on <c>System.Diagnostics.Metrics</c>, with meter <see cref="MeterName"/> (<c>"Loadwise"</c>) and
/// instruments named the OpenTelemetry way:
/// <list type="bullet">
/// <item><c>loadwise.selections</c>: counter of picks, tag <c>strategy</c>;</item>
/// <item><c>loadwise.health.transitions</c>: counter of status changes, tags <c>from</c> and <c>to</c> (lower-case status names);</item>
/// <item><c>loadwise.nodes</c>: observable gauge of nodes by status, tag <c>status</c>, summed over the trackers passed to <see cref="ObserveNodes{TId}"/>;</item>
/// <item><c>loadwise.state_store.errors</c>: counter of background store errors, tag <c>operation</c>.</item>
/// </list>
/// Node ids are never used as tags (unbounded cardinality).
/// </summary>
/// <example>
/// <code>
/// using var metrics = new DiagnosticsMetricsCollector();
/// var tracker = new HealthTracker&lt;string&gt;(new HealthTrackerOptions { Metrics = metrics });
/// metrics.ObserveNodes(tracker);
/// // Export with OpenTelemetry (AddMeter("Loadwise")) or dotnet-counters.
/// </code>
/// </example>
public sealed class DiagnosticsMetricsCollector : IMetricsCollector, IDisposable
{
    /// <summary>The meter name, <c>"Loadwise"</c>.</summary>
    public const string MeterName = "Loadwise";

    /// <summary>The selections counter's name.</summary>
    public const string SelectionsName = "loadwise.selections";

    /// <summary>The health transitions counter's name.</summary>
    public const string HealthTransitionsName = "loadwise.health.transitions";

    /// <summary>The nodes-by-status gauge's name.</summary>
    public const string NodesName = "loadwise.nodes";

    /// <summary>The state-store errors counter's name.</summary>
    public const string StateStoreErrorsName = "loadwise.state_store.errors";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _selections;
    private readonly Counter<long> _transitions;
    private readonly Counter<long> _storeErrors;
    private readonly Lock _sourcesGate = new();
    private Func<HealthStatusCounts>[] _sources = [];

    /// <summary>Creates the collector and its meter.</summary>
    /// <param name="meterFactory">The DI meter factory to create the meter with; null to create (and own) a plain <see cref="Meter"/>.</param>
    /// <example><code>var metrics = new DiagnosticsMetricsCollector(serviceProvider.GetService&lt;IMeterFactory&gt;());</code></example>
    public DiagnosticsMetricsCollector(IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory is null ? new Meter(MeterName) : meterFactory.Create(new MeterOptions(MeterName));
        _selections = _meter.CreateCounter<long>(SelectionsName, unit: "{selection}", description: "Nodes picked by a load-balancing strategy.");
        _transitions = _meter.CreateCounter<long>(HealthTransitionsName, unit: "{transition}", description: "Node health status changes.");
        _storeErrors = _meter.CreateCounter<long>(StateStoreErrorsName, unit: "{error}", description: "Background state-store operations that failed.");
        _meter.CreateObservableGauge(NodesName, ObserveNodeCounts, unit: "{node}", description: "Tracked nodes by health status.");
    }

    /// <summary>Gets the meter the instruments belong to.</summary>
    /// <example><code>string name = metrics.Meter.Name; // "Loadwise"</code></example>
    public Meter Meter => _meter;

    /// <summary>Adds a tracker's node counts to the <c>loadwise.nodes</c> gauge.</summary>
    /// <typeparam name="TId">The tracker's node id type.</typeparam>
    /// <param name="tracker">The tracker.</param>
    /// <example><code>metrics.ObserveNodes(tracker);</code></example>
    public void ObserveNodes<TId>(HealthTracker<TId> tracker)
        where TId : notnull, IEquatable<TId>
    {
        ArgumentNullException.ThrowIfNull(tracker);
        lock (_sourcesGate)
        {
            _sources = [.. _sources, tracker.CountByStatus];
        }
    }

    /// <summary>
    /// Adds node counts read from <paramref name="counts"/> at each collection to the <c>loadwise.nodes</c> gauge: for
    /// a set of nodes whose tracker is replaced over time (a reloaded configuration), where passing each tracker to
    /// <see cref="ObserveNodes{TId}"/> would count the replaced ones too.
    /// </summary>
    /// <param name="counts">Returns the current counts.</param>
    /// <example><code>metrics.ObserveNodes(() => current.Tracker.CountByStatus());</code></example>
    public void ObserveNodes(Func<HealthStatusCounts> counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        lock (_sourcesGate)
        {
            _sources = [.. _sources, counts];
        }
    }

    /// <inheritdoc/>
    public void OnSelected(string strategy) =>
        _selections.Add(1, new KeyValuePair<string, object?>("strategy", strategy));

    /// <inheritdoc/>
    public void OnHealthChanged<TId>(TId nodeId, HealthStatus from, HealthStatus to)
        where TId : notnull =>
        _transitions.Add(1, new KeyValuePair<string, object?>("from", NameOf(from)), new KeyValuePair<string, object?>("to", NameOf(to)));

    /// <inheritdoc/>
    public void OnStateStoreError(string operation, string key, Exception exception) =>
        _storeErrors.Add(1, new KeyValuePair<string, object?>("operation", operation));

    /// <summary>Disposes the meter when this collector created it.</summary>
    /// <example><code>metrics.Dispose();</code></example>
    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private static string NameOf(HealthStatus status) => Enum.IsDefined(status) ? status.ToName() : "unknown";

    private IEnumerable<Measurement<int>> ObserveNodeCounts()
    {
        Func<HealthStatusCounts>[] sources = Volatile.Read(ref _sources);
        var totals = new int[HealthStatusNames.All.Count];
        foreach (Func<HealthStatusCounts> source in sources)
        {
            HealthStatusCounts counts = source();
            totals[0] += counts.Healthy;
            totals[1] += counts.Degraded;
            totals[2] += counts.Unhealthy;
            totals[3] += counts.Recovering;
        }

        var measurements = new Measurement<int>[HealthStatusNames.All.Count];
        for (int i = 0; i < measurements.Length; i++)
        {
            measurements[i] = new Measurement<int>(totals[i], new KeyValuePair<string, object?>("status", HealthStatusNames.All[i]));
        }

        return measurements;
    }
}
