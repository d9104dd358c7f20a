namespace Loadwise;

/// <summary>
/// The selection contract: given candidates and a context, return the index of the candidate that should take the
/// next request. Implementations are thread-safe singletons (one instance per pool of nodes) whose picks allocate
/// nothing.
/// </summary>
/// <remarks>
/// <para>
/// <b>Shape.</b> <see cref="TrySelect"/> follows the .NET <c>Try</c> pattern: it returns <c>false</c> (and
/// the out index set to -1) when the span is empty, when every candidate is masked
/// out, or when the strategy cannot decide (for example <see cref="ConsistentHash{TNode, TId, TAccessor}"/> without a
/// hash key). Composition (<see cref="WithFallback{TNode, TPrimary, TFallback}"/>, <see cref="FallbackChain{TNode}"/>)
/// builds on that <c>false</c>.
/// </para>
/// <para>
/// <b>Dispatch.</b> Calling a concrete strategy type directly is monomorphic and, with a struct node type, fully
/// specialised. Holding strategies as <see cref="ISelectionStrategy{TNode}"/> is the run-time composition path.
/// </para>
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <example>
/// <code>
/// ISelectionStrategy&lt;string&gt; strategy = new RoundRobin&lt;string&gt;();
/// string[] backends = ["10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"];
/// if (strategy.TrySelect(backends, SelectionContext.Empty, out int index))
///     Console.WriteLine($"route to {backends[index]}");
/// </code>
/// </example>
public interface ISelectionStrategy<TNode>
{
    /// <summary>Gets the strategy's name, as used in metrics and configuration (for example <c>"RoundRobin"</c>).</summary>
    /// <example><code>Console.WriteLine(strategy.Name);</code></example>
    string Name { get; }

    /// <summary>Picks a candidate.</summary>
    /// <param name="candidates">The candidates; indices refer to this span.</param>
    /// <param name="context">The pick's context: hash key, cost, mask and tags.</param>
    /// <param name="index">The chosen index, or -1 when the method returns false.</param>
    /// <returns>True when a candidate was chosen; false when none is eligible.</returns>
    /// <exception cref="ArgumentException">The context's mask covers a different number of candidates.</exception>
    /// <example><code>bool found = strategy.TrySelect(nodes, in context, out int index);</code></example>
    bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index);
}
