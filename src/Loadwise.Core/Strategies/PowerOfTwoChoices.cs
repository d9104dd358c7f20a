using System.Runtime.CompilerServices;
using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Samples two <b>distinct</b> candidates at random and picks the less loaded (ties go to the first sample). Unlike
/// sampling with replacement (which Envoy does, returning the busier of two hosts a quarter of the time when it draws
/// the same host twice), the pair is always distinct. One candidate is returned as is; NaN never wins.
/// </summary>
/// <remarks>
/// Unmasked picks are O(1): one 64-bit random number yields both samples. Masked picks count the allowed candidates
/// and rank-select two of them, O(n/64) word operations with no allocation.
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TAccessor">Reads the load; see <see cref="LoadAccessor{TNode}"/>.</typeparam>
/// <example>
/// <code>
/// var strategy = PowerOfTwoChoices.For&lt;Backend&gt;();
/// strategy.TrySelect(backends, SelectionContext.Empty, out int index);
/// </code>
/// </example>
public sealed class PowerOfTwoChoices<TNode, TAccessor> : ISelectionStrategy<TNode>
    where TAccessor : ILoadAccessor<TNode>
{
    private readonly RandomSource _random;
    private uint _rotation;

    /// <summary>Creates the strategy.</summary>
    /// <param name="seed">Optional seed for reproducible single-threaded sequences.</param>
    /// <example><code>var strategy = new PowerOfTwoChoices&lt;Backend, LoadAccessor&lt;Backend&gt;&gt;(seed: 7);</code></example>
    public PowerOfTwoChoices(ulong? seed = null) => _random = new RandomSource(seed);

    /// <inheritdoc/>
    public string Name => "PowerOfTwoChoices";

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index)
    {
        int count = candidates.Length;
        if (count < 2 || context.HasMask)
        {
            return TrySelectSlow(candidates, context, out index);
        }

        // High and low halves of one draw give both samples; the second comes from count-1 and skips past the first.
        ulong random = _random.NextUInt64();
        int first = RandomSource.Bounded(random, count);
        int second = SecondSample(random, count, first);
        double firstLoad = TAccessor.GetLoad(in candidates[first]);
        double secondLoad = TAccessor.GetLoad(in candidates[second]);
        index = Lower(first, firstLoad, second, secondLoad);
        if (double.IsNaN(firstLoad))
        {
            return TrySelectAfterNaN(candidates, context, second, secondLoad, out index);
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SecondSample(ulong random, int pool, int first) => TwoSamples.Second(random, pool, first);

    // Which sample wins is a coin flip for the branch predictor, so the choice is made without a branch.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Lower(int first, double firstLoad, int second, double secondLoad)
    {
        int takeSecond = secondLoad < firstLoad ? 1 : 0;
        return first ^ ((first ^ second) & -takeSecond);
    }

    // Masked sets, one or no candidate: rank-select two distinct allowed candidates (O(n/64) word operations).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TrySelectSlow(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index)
    {
        bool masked = context.ValidateMask(candidates.Length);
        int pool = masked ? context.Mask.CountAllowed() : candidates.Length;
        if (pool <= 1)
        {
            index = pool == 0 ? -1 : masked ? context.Mask.NthAllowed(0) : 0;
            if (index >= 0 && double.IsNaN(TAccessor.GetLoad(in candidates[index])))
            {
                index = -1;
            }

            return index >= 0;
        }

        ulong random = _random.NextUInt64();
        int first = RandomSource.Bounded(random, pool);
        int second = SecondSample(random, pool, first);
        if (masked)
        {
            first = context.Mask.NthAllowed(first);
            second = context.Mask.NthAllowed(second);
        }

        double firstLoad = TAccessor.GetLoad(in candidates[first]);
        double secondLoad = TAccessor.GetLoad(in candidates[second]);
        index = Lower(first, firstLoad, second, secondLoad);
        return !double.IsNaN(firstLoad) || TrySelectAfterNaN(candidates, context, second, secondLoad, out index);
    }

    // The first sample is NaN: the second wins unless it is NaN too, and then an exact scan finds any non-NaN load.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TrySelectAfterNaN(ReadOnlySpan<TNode> candidates, in SelectionContext context, int second, double secondLoad, out int index)
    {
        index = double.IsNaN(secondLoad)
            ? LowestScore.Select<TNode, LoadScore<TNode, TAccessor>>(candidates, context, context.HasMask, epsilon: 0, ref _rotation)
            : second;
        return index >= 0;
    }
}

/// <summary>Creates <see cref="PowerOfTwoChoices{TNode, TAccessor}"/> for node types that implement <see cref="ILoadMetric"/>.</summary>
/// <example><code>var strategy = PowerOfTwoChoices.For&lt;Backend&gt;();</code></example>
public static class PowerOfTwoChoices
{
    /// <summary>Creates a power-of-two-choices strategy that reads <see cref="ILoadMetric.LoadScore"/>.</summary>
    /// <typeparam name="TNode">A node type implementing <see cref="ILoadMetric"/>.</typeparam>
    /// <param name="seed">Optional seed for reproducible single-threaded sequences.</param>
    /// <returns>A new strategy.</returns>
    /// <example><code>var strategy = PowerOfTwoChoices.For&lt;Backend&gt;();</code></example>
    public static PowerOfTwoChoices<TNode, LoadAccessor<TNode>> For<TNode>(ulong? seed = null)
        where TNode : ILoadMetric => new(seed);
}
