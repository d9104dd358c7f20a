namespace Loadwise;

/// <summary>
/// Wraps a strategy and tells an <see cref="IMetricsCollector"/> about every pick (by strategy name). With
/// <see cref="NoOpMetricsCollector"/> the wrapper only adds one predictable branch; the hook is never called.
/// </summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TStrategy">The wrapped strategy.</typeparam>
/// <example>
/// <code>
/// var strategy = new InstrumentedStrategy&lt;Backend, RoundRobin&lt;Backend&gt;&gt;(new RoundRobin&lt;Backend&gt;(), metrics);
/// </code>
/// </example>
public sealed class InstrumentedStrategy<TNode, TStrategy> : ISelectionStrategy<TNode>
    where TStrategy : ISelectionStrategy<TNode>
{
    private readonly TStrategy _inner;
    private readonly IMetricsCollector _metrics;
    private readonly bool _enabled;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The strategy that picks.</param>
    /// <param name="metrics">The hook told about each pick.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <example><code>var s = new InstrumentedStrategy&lt;string, RoundRobin&lt;string&gt;&gt;(new(), metrics);</code></example>
    public InstrumentedStrategy(TStrategy inner, IMetricsCollector metrics)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(metrics);
        _inner = inner;
        _metrics = metrics;
        _enabled = metrics is not NoOpMetricsCollector;
        Name = inner.Name;
    }

    /// <summary>Gets the wrapped strategy's name (the instrumentation is invisible in metrics and configuration).</summary>
    /// <example><code>string name = strategy.Name;</code></example>
    public string Name { get; }

    /// <summary>Gets the wrapped strategy.</summary>
    /// <example><code>var inner = strategy.Inner;</code></example>
    public TStrategy Inner => _inner;

    /// <inheritdoc/>
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index)
    {
        if (!_inner.TrySelect(candidates, in context, out index))
        {
            return false;
        }

        if (_enabled)
        {
            _metrics.OnSelected(Name);
        }

        return true;
    }
}
