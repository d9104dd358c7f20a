namespace Loadwise;

/// <summary>Settings for a <see cref="HealthTracker{TId}"/>. Every property has a working default.</summary>
/// <example>
/// <code>
/// var tracker = new HealthTracker&lt;string&gt;(new HealthTrackerOptions
/// {
///     Policy = new ConsecutiveFailurePolicy(failureThreshold: 5),
///     StateStore = new InMemoryStateStore(),
///     Metrics = new DiagnosticsMetricsCollector(),
/// });
/// </code>
/// </example>
public sealed class HealthTrackerOptions
{
    /// <summary>Gets the health policy; defaults to <see cref="ConsecutiveFailurePolicy.Default"/>.</summary>
    /// <example><code>var options = new HealthTrackerOptions { Policy = new ConsecutiveFailurePolicy(1) };</code></example>
    public IHealthPolicy Policy { get; init; } = ConsecutiveFailurePolicy.Default;

    /// <summary>Gets the clock; defaults to <see cref="TimeProvider.System"/>. Tests pass a fake one.</summary>
    /// <example><code>var options = new HealthTrackerOptions { TimeProvider = fakeTime };</code></example>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Gets the metrics hook told about health changes and store errors; defaults to <see cref="NoOpMetricsCollector.Instance"/>.</summary>
    /// <example><code>var options = new HealthTrackerOptions { Metrics = new DiagnosticsMetricsCollector() };</code></example>
    public IMetricsCollector Metrics { get; init; } = NoOpMetricsCollector.Instance;

    /// <summary>
    /// Gets the store that every status change is written behind to (never awaited by a pick or a report), or null
    /// (the default) for no persistence. Store errors go to <see cref="Metrics"/>.
    /// </summary>
    /// <example><code>var options = new HealthTrackerOptions { StateStore = new InMemoryStateStore() };</code></example>
    public IStateStore? StateStore { get; init; }

    /// <summary>
    /// Gets the prefix of every key this tracker writes; the key is the prefix followed by the node id's
    /// <see cref="object.ToString"/>. Use one prefix per pool when several pools share a store. Defaults to <c>"loadwise:health:"</c>.
    /// </summary>
    /// <example><code>var options = new HealthTrackerOptions { KeyPrefix = "pool-a:health:" };</code></example>
    public string KeyPrefix { get; init; } = "loadwise:health:";

    /// <summary>Gets how long a rate-limited node is left alone when the outcome carries no retry-after; defaults to 1 second.</summary>
    /// <example><code>var options = new HealthTrackerOptions { DefaultRetryAfter = TimeSpan.FromSeconds(5) };</code></example>
    public TimeSpan DefaultRetryAfter { get; init; } = TimeSpan.FromSeconds(1);
}
