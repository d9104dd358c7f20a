namespace Loadwise;

/// <summary>
/// A strategy that filters before it picks: <see cref="Filter.TrySelect"/> packaged as an
/// <see cref="ISelectionStrategy{TNode}"/>, so that filter + select is one allocation-free call wherever a strategy is
/// expected (composition, instrumentation, the proxy).
/// </summary>
/// <remarks>The name is the inner strategy's, so metrics group picks by algorithm.</remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TFilter">The filter type.</typeparam>
/// <typeparam name="TStrategy">The strategy type.</typeparam>
/// <example>
/// <code>
/// var strategy = new FilteredStrategy&lt;Backend, HealthFilter&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;, PowerOfTwoChoices&lt;Backend, LoadAccessor&lt;Backend&gt;&gt;&gt;(
///     new HealthFilter&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;(tracker), PowerOfTwoChoices.For&lt;Backend&gt;());
/// strategy.TrySelect(backends, SelectionContext.Empty, out int index); // never an Unhealthy or rate-limited node
/// </code>
/// </example>
public sealed class FilteredStrategy<TNode, TFilter, TStrategy> : ISelectionStrategy<TNode>
    where TFilter : ICandidateFilter<TNode>
    where TStrategy : ISelectionStrategy<TNode>
{
    private readonly TFilter _filter;
    private readonly TStrategy _strategy;

    /// <summary>Combines a filter and a strategy.</summary>
    /// <param name="filter">Narrows the candidates.</param>
    /// <param name="strategy">Picks among what is left.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <example><code>var s = new FilteredStrategy&lt;string, PredicateFilter&lt;string&gt;, RoundRobin&lt;string&gt;&gt;(new(static a =&gt; a.Length &gt; 0), new());</code></example>
    public FilteredStrategy(TFilter filter, TStrategy strategy)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(strategy);
        _filter = filter;
        _strategy = strategy;
        Name = strategy.Name;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>Gets the filter.</summary>
    /// <example><code>var f = strategy.Filter;</code></example>
    public TFilter Filter => _filter;

    /// <summary>Gets the strategy that picks after filtering.</summary>
    /// <example><code>var inner = strategy.Strategy;</code></example>
    public TStrategy Strategy => _strategy;

    /// <inheritdoc/>
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index) =>
        Loadwise.Filter.TrySelect(candidates, in context, _filter, _strategy, out index);
}
