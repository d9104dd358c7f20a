using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Picks the candidate with the highest remaining-capacity ratio (for example the LLM provider with the most quota
/// left). Candidates within <see cref="Epsilon"/> of the best are near-ties and take turns, so that equal providers
/// share traffic instead of the first one taking it all (the same rotation as <see cref="LeastLoad{TNode, TAccessor}"/>'s
/// exact ties: one shared atomic counter, advanced only when there is more than one). Masked candidates neither win
/// nor take a turn. NaN never wins.
/// </summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TAccessor">Reads the ratio; see <see cref="RemainingRatioAccessor{TNode}"/>.</typeparam>
/// <example>
/// <code>
/// var strategy = MostAvailable.For&lt;Provider&gt;(epsilon: 0.05);
/// strategy.TrySelect(providers, SelectionContext.Empty, out int index);
/// </code>
/// </example>
public sealed class MostAvailable<TNode, TAccessor> : ISelectionStrategy<TNode>
    where TAccessor : IRemainingRatioAccessor<TNode>
{
    /// <summary>The default near-tie width: ratios within 0.01 (one percentage point) of the best take turns.</summary>
    public const double DefaultEpsilon = 0.01;

    private uint _rotation;

    /// <summary>Creates the strategy.</summary>
    /// <param name="epsilon">Ratios within this distance of the best are near-ties; 0 spreads only exact ties.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epsilon"/> is negative, NaN or infinite.</exception>
    /// <example><code>var strategy = new MostAvailable&lt;Provider, RemainingRatioAccessor&lt;Provider&gt;&gt;(epsilon: 0.02);</code></example>
    public MostAvailable(double epsilon = DefaultEpsilon)
    {
        if (!(epsilon >= 0) || double.IsInfinity(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Epsilon must be a finite number >= 0 (ratios are 0..1; 0.01 is the default).");
        }

        Epsilon = epsilon;
    }

    /// <summary>Gets the near-tie width.</summary>
    /// <example><code>double width = strategy.Epsilon;</code></example>
    public double Epsilon { get; }

    /// <inheritdoc/>
    public string Name => "MostAvailable";

    /// <inheritdoc/>
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index)
    {
        if (candidates.IsEmpty)
        {
            index = -1;
            return false;
        }

        bool masked = context.ValidateMask(candidates.Length);
        index = LowestScore.Select<TNode, NegatedRemainingRatio<TNode, TAccessor>>(candidates, context, masked, Epsilon, ref _rotation);
        return index >= 0;
    }
}

/// <summary>Creates <see cref="MostAvailable{TNode, TAccessor}"/> for node types that implement <see cref="IRemainingCapacity"/>.</summary>
/// <example><code>var strategy = MostAvailable.For&lt;Provider&gt;();</code></example>
public static class MostAvailable
{
    /// <summary>Creates a most-available strategy that reads <see cref="IRemainingCapacity.RemainingRatio"/>.</summary>
    /// <typeparam name="TNode">A node type implementing <see cref="IRemainingCapacity"/>.</typeparam>
    /// <param name="epsilon">The near-tie width (default 0.01).</param>
    /// <returns>A new strategy.</returns>
    /// <example><code>var strategy = MostAvailable.For&lt;Provider&gt;(0.05);</code></example>
    public static MostAvailable<TNode, RemainingRatioAccessor<TNode>> For<TNode>(double epsilon = MostAvailable<TNode, RemainingRatioAccessor<TNode>>.DefaultEpsilon)
        where TNode : IRemainingCapacity => new(epsilon);
}
