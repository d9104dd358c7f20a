namespace Loadwise;

/// <summary>
/// The metrics hook: told about selections, health changes and state-store errors. Implementations must be
/// thread-safe, fast and must not throw (a selection hook runs on the pick path).
/// <see cref="NoOpMetricsCollector"/> is the default; <see cref="DiagnosticsMetricsCollector"/> records to
/// <c>System.Diagnostics.Metrics</c>.
/// </summary>
/// <example>
/// <code>
/// public sealed class ConsoleMetrics : IMetricsCollector
/// {
///     public void OnSelected(string strategy) { }
///     public void OnHealthChanged&lt;TId&gt;(TId nodeId, HealthStatus from, HealthStatus to) where TId : notnull =>
///         Console.WriteLine($"{nodeId}: {from} -> {to}");
///     public void OnStateStoreError(string operation, string key, Exception exception) =>
///         Console.Error.WriteLine($"store {operation} {key}: {exception.Message}");
/// }
/// </code>
/// </example>
public interface IMetricsCollector
{
    /// <summary>
    /// Called after a strategy picked a node (by <see cref="InstrumentedStrategy{TNode, TStrategy}"/>). Not generic, so
    /// that the call on the pick path is an ordinary interface call rather than a generic virtual method lookup; node
    /// ids are left out because metrics must not be tagged with them (unbounded cardinality).
    /// </summary>
    /// <param name="strategy">The strategy's <see cref="ISelectionStrategy{TNode}.Name"/>.</param>
    /// <example><code>collector.OnSelected("RoundRobin");</code></example>
    void OnSelected(string strategy);

    /// <summary>Called after a node's health status changed.</summary>
    /// <typeparam name="TId">The node id type.</typeparam>
    /// <param name="nodeId">The node.</param>
    /// <param name="from">The previous status.</param>
    /// <param name="to">The new status.</param>
    /// <example><code>collector.OnHealthChanged("10.0.0.1:80", HealthStatus.Healthy, HealthStatus.Degraded);</code></example>
    void OnHealthChanged<TId>(TId nodeId, HealthStatus from, HealthStatus to)
        where TId : notnull;

    /// <summary>Called when a background state-store operation failed (the error is not thrown anywhere else).</summary>
    /// <param name="operation">The operation: <c>"put"</c>, <c>"get"</c>, <c>"remove"</c> or <c>"list"</c>.</param>
    /// <param name="key">The key involved.</param>
    /// <param name="exception">The error.</param>
    /// <example><code>collector.OnStateStoreError("put", key, exception);</code></example>
    void OnStateStoreError(string operation, string key, Exception exception);
}

/// <summary>The default metrics hook: does nothing. Instrumented strategies detect it and skip the call entirely.</summary>
/// <example><code>IMetricsCollector metrics = NoOpMetricsCollector.Instance;</code></example>
public sealed class NoOpMetricsCollector : IMetricsCollector
{
    private NoOpMetricsCollector()
    {
    }

    /// <summary>Gets the single instance.</summary>
    /// <example><code>var metrics = NoOpMetricsCollector.Instance;</code></example>
    public static NoOpMetricsCollector Instance { get; } = new();

    /// <inheritdoc/>
    public void OnSelected(string strategy)
    {
    }

    /// <inheritdoc/>
    public void OnHealthChanged<TId>(TId nodeId, HealthStatus from, HealthStatus to)
        where TId : notnull
    {
    }

    /// <inheritdoc/>
    public void OnStateStoreError(string operation, string key, Exception exception)
    {
    }
}
