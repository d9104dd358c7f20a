using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Picks the candidate with the lowest load score. Ties go to the earliest candidate; a NaN load never wins (a
/// candidate whose load is NaN is skipped, and if only such candidates remain the pick fails). One scalar pass reads
/// each load in place; a SIMD version would first gather the strided loads into a buffer, which measured slower.
/// </summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TAccessor">Reads the load; see <see cref="LoadAccessor{TNode}"/> for types implementing <see cref="ILoadMetric"/>.</typeparam>
/// <example>
/// <code>
/// var strategy = LeastLoad.For&lt;Backend&gt;(); // Backend : ILoadMetric
/// strategy.TrySelect(backends, SelectionContext.Empty, out int index);
/// </code>
/// </example>
public sealed class LeastLoad<TNode, TAccessor> : ISelectionStrategy<TNode>
    where TAccessor : ILoadAccessor<TNode>
{
    /// <inheritdoc/>
    public string Name => "LeastLoad";

    /// <inheritdoc/>
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index)
    {
        if (candidates.IsEmpty)
        {
            index = -1;
            return false;
        }

        bool masked = context.ValidateMask(candidates.Length);
        index = LowestScore.Select<TNode, LoadScore<TNode, TAccessor>>(candidates, context, masked, epsilon: -1, spread: 0);
        return index >= 0;
    }
}

/// <summary>Creates <see cref="LeastLoad{TNode, TAccessor}"/> for node types that implement <see cref="ILoadMetric"/>.</summary>
/// <example><code>var strategy = LeastLoad.For&lt;Backend&gt;();</code></example>
public static class LeastLoad
{
    /// <summary>Creates a least-load strategy that reads <see cref="ILoadMetric.LoadScore"/>.</summary>
    /// <typeparam name="TNode">A node type implementing <see cref="ILoadMetric"/>.</typeparam>
    /// <returns>A new strategy.</returns>
    /// <example><code>var strategy = LeastLoad.For&lt;Backend&gt;();</code></example>
    public static LeastLoad<TNode, LoadAccessor<TNode>> For<TNode>()
        where TNode : ILoadMetric => new();
}
