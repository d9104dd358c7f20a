using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Picks the candidate with the lowest load score. Candidates tied for the lowest load take turns (one shared atomic
/// counter), as nginx least_conn and HAProxy leastconn rotate among equally loaded servers: at low concurrency loads
/// are often all equal, and the earliest candidate would otherwise take all traffic. A NaN load never wins (a
/// candidate whose load is NaN is skipped, and if only such candidates remain the pick fails).
/// </summary>
/// <remarks>
/// One scalar pass reads each load in place and counts the ties as it goes, so a unique minimum costs neither a second
/// pass nor the atomic; a SIMD version would first gather the strided loads into a buffer, which measured slower.
/// Masked candidates neither win nor take a turn.
/// </remarks>
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
    private uint _rotation;

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
        index = LowestScore.Select<TNode, LoadScore<TNode, TAccessor>>(candidates, context, masked, epsilon: 0, ref _rotation);
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
