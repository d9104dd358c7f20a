using System.Runtime.CompilerServices;
using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Envoy's weighted least request: each candidate's effective weight is <c>weight / (load + 1)^bias</c>, and the pick
/// samples two <b>distinct</b> candidates at random and takes the higher effective weight (ties go to the first
/// sample). With equal weights this is least-request power of two choices; with unequal weights a heavier node takes
/// more requests until its in-flight count catches up. Weight 0 never wins; NaN load never wins.
/// </summary>
/// <remarks>
/// <para>
/// The load is the node's in-flight request count (or any non-negative load; a negative one counts as 0). Bias 1.0
/// (the default) is Envoy's <c>active_request_bias</c>; 0 ignores the load (a weighted pick between the two samples),
/// larger values weigh the load more. Bias 1.0 costs one division; any other bias one <c>Math.Pow</c>.
/// </para>
/// <para>
/// Unmasked picks are O(1); masked picks rank-select the two samples among the allowed candidates (O(n/64) word
/// operations). When neither sample can win (weight 0 or NaN load), an exact pass over the allowed candidates takes
/// the highest effective weight.
/// </para>
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TAccessor">Reads the weight and the load; see <see cref="WeightedLoadAccessor{TNode}"/>.</typeparam>
/// <example>
/// <code>
/// var strategy = WeightedLeastRequest.For&lt;Backend&gt;(); // Backend : IWeighted, ILoadMetric (in flight)
/// strategy.TrySelect(backends, SelectionContext.Empty, out int index);
/// </code>
/// </example>
public sealed class WeightedLeastRequest<TNode, TAccessor> : ISelectionStrategy<TNode>
    where TAccessor : IWeightAccessor<TNode>, ILoadAccessor<TNode>
{
    private readonly RandomSource _random;
    private readonly double _bias;

    /// <summary>Creates the strategy.</summary>
    /// <param name="bias">The exponent on <c>load + 1</c>: a finite number of 0 or more (default 1.0).</param>
    /// <param name="seed">Optional seed for reproducible single-threaded sequences.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bias"/> is negative, infinite or not a number.</exception>
    /// <example><code>var strategy = new WeightedLeastRequest&lt;Backend, WeightedLoadAccessor&lt;Backend&gt;&gt;(bias: 2.0);</code></example>
    public WeightedLeastRequest(double bias = 1.0, ulong? seed = null)
    {
        if (!(bias >= 0) || double.IsInfinity(bias))
        {
            throw new ArgumentOutOfRangeException(nameof(bias), bias, "The active-request bias must be a finite number of 0 or more; 1.0 is Envoy's default.");
        }

        _bias = bias;
        _random = new RandomSource(seed);
    }

    /// <summary>Gets the bias on the load.</summary>
    /// <example><code>double bias = strategy.Bias; // 1.0</code></example>
    public double Bias => _bias;

    /// <inheritdoc/>
    public string Name => "WeightedLeastRequest";

    /// <inheritdoc/>
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index)
    {
        if (!TwoSamples.TryDraw(_random, candidates.Length, in context, out int first, out int second))
        {
            index = first >= 0 && EffectiveWeight(in candidates[first]) > 0 ? first : -1;
            return index >= 0;
        }

        // Which sample wins is a coin flip for the branch predictor, so the choice is made without a branch.
        double firstScore = EffectiveWeight(in candidates[first]);
        double secondScore = EffectiveWeight(in candidates[second]);
        int takeSecond = secondScore > firstScore ? 1 : 0;
        index = first ^ ((first ^ second) & -takeSecond);
        if (Math.Max(firstScore, secondScore) > 0)
        {
            return true;
        }

        index = Best(candidates, context, context.ValidateMask(candidates.Length));
        return index >= 0;
    }

    /// <summary>Returns a node's effective weight, <c>weight / (load + 1)^bias</c>; 0 for weight 0 or a NaN load.</summary>
    /// <param name="node">The node.</param>
    /// <returns>The effective weight.</returns>
    /// <example><code>double effective = strategy.EffectiveWeight(in backend);</code></example>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double EffectiveWeight(in TNode node)
    {
        int weight = TAccessor.GetWeight(in node);
        double load = TAccessor.GetLoad(in node);
        if (weight <= 0 || double.IsNaN(load))
        {
            return 0;
        }

        double denominator = Math.Max(load, 0) + 1;
        return _bias == 1.0 ? weight / denominator : weight / Math.Pow(denominator, _bias);
    }

    // Neither sample can win: the highest effective weight among the allowed candidates, first on ties.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int Best(ReadOnlySpan<TNode> candidates, in SelectionContext context, bool masked)
    {
        int best = -1;
        double bestScore = 0;
        for (int i = 0; i < candidates.Length; i++)
        {
            double score = EffectiveWeight(in candidates[i]);
            if (score > bestScore && (!masked || context.Mask.IsAllowed(i)))
            {
                best = i;
                bestScore = score;
            }
        }

        return best;
    }
}

/// <summary>The built-in weight-and-load accessor for node types that implement <see cref="IWeighted"/> and <see cref="ILoadMetric"/>.</summary>
/// <typeparam name="TNode">A node type implementing both capabilities.</typeparam>
/// <example><code>var strategy = new WeightedLeastRequest&lt;Backend, WeightedLoadAccessor&lt;Backend&gt;&gt;();</code></example>
public readonly struct WeightedLoadAccessor<TNode> : IWeightAccessor<TNode>, ILoadAccessor<TNode>
    where TNode : IWeighted, ILoadMetric
{
    /// <inheritdoc/>
    public static int GetWeight(in TNode node) => node.Weight;

    /// <inheritdoc/>
    public static double GetLoad(in TNode node) => node.LoadScore;
}

/// <summary>Creates <see cref="WeightedLeastRequest{TNode, TAccessor}"/> for node types that implement <see cref="IWeighted"/> and <see cref="ILoadMetric"/>.</summary>
/// <example><code>var strategy = WeightedLeastRequest.For&lt;Backend&gt;();</code></example>
public static class WeightedLeastRequest
{
    /// <summary>Creates the strategy over <see cref="IWeighted.Weight"/> and <see cref="ILoadMetric.LoadScore"/> (in flight).</summary>
    /// <typeparam name="TNode">A node type implementing <see cref="IWeighted"/> and <see cref="ILoadMetric"/>.</typeparam>
    /// <param name="bias">The exponent on <c>load + 1</c> (default 1.0).</param>
    /// <param name="seed">Optional seed for reproducible single-threaded sequences.</param>
    /// <returns>A new strategy.</returns>
    /// <example><code>var strategy = WeightedLeastRequest.For&lt;Backend&gt;(bias: 1.0);</code></example>
    public static WeightedLeastRequest<TNode, WeightedLoadAccessor<TNode>> For<TNode>(double bias = 1.0, ulong? seed = null)
        where TNode : IWeighted, ILoadMetric => new(bias, seed);
}
