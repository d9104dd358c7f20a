using System.Runtime.CompilerServices;

namespace Loadwise.Internal;

/// <summary>Reads one score per node (lower is better); the struct generic makes the read inline.</summary>
internal interface IScore<TNode>
{
    static abstract double Read(in TNode node);
}

internal readonly struct LoadScore<TNode, TAccessor> : IScore<TNode>
    where TAccessor : ILoadAccessor<TNode>
{
    public static double Read(in TNode node) => TAccessor.GetLoad(in node);
}

internal readonly struct NegatedRemainingRatio<TNode, TAccessor> : IScore<TNode>
    where TAccessor : IRemainingRatioAccessor<TNode>
{
    public static double Read(in TNode node) => -TAccessor.GetRemainingRatio(in node);
}

/// <summary>Whether a candidate may be picked; the unmasked instantiation folds to <c>true</c>.</summary>
internal interface IEligibility
{
    static abstract bool IsAllowed(in SelectionContext context, int index);
}

internal readonly struct EveryCandidate : IEligibility
{
    public static bool IsAllowed(in SelectionContext context, int index) => true;
}

internal readonly struct MaskedCandidates : IEligibility
{
    public static bool IsAllowed(in SelectionContext context, int index) => context.Mask.IsAllowed(index);
}

/// <summary>
/// The one "lowest score wins" algorithm behind LeastLoad, MostAvailable (on negated ratios) and the PowerOfTwoChoices
/// slow path. NaN never wins because every comparison with NaN is false.
/// </summary>
/// <remarks>
/// Node scores sit at a stride inside the caller's structs, so a SIMD version would first have to gather them into a
/// buffer; that measured slower over 64 nodes than this single scalar pass (bench/results/core-strategies.md), whose
/// "new minimum" branch is almost never taken and so predicts well.
/// </remarks>
internal static class LowestScore
{
    /// <summary>
    /// Returns the index of the lowest eligible score, or -1. With <paramref name="epsilon"/> &lt; 0 the first exact
    /// minimum wins; otherwise every score within <paramref name="epsilon"/> of the minimum is a near-tie and
    /// <paramref name="spread"/> chooses among them in rotation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Select<TNode, TScore>(ReadOnlySpan<TNode> candidates, in SelectionContext context, bool masked, double epsilon, uint spread)
        where TScore : IScore<TNode> =>
        masked
            ? Select<TNode, TScore, MaskedCandidates>(candidates, context, epsilon, spread)
            : Select<TNode, TScore, EveryCandidate>(candidates, context, epsilon, spread);

    private static int Select<TNode, TScore, TEligibility>(ReadOnlySpan<TNode> candidates, in SelectionContext context, double epsilon, uint spread)
        where TScore : IScore<TNode>
        where TEligibility : IEligibility
    {
        int best = -1;
        double min = double.PositiveInfinity;
        for (int i = 0; i < candidates.Length; i++)
        {
            // The same compare-and-rarely-branch loop as a plain scan of doubles; NaN fails the compare.
            double score = TScore.Read(in candidates[i]);
            if (score < min && TEligibility.IsAllowed(context, i))
            {
                min = score;
                best = i;
            }
        }

        if (best < 0)
        {
            return FirstInfinite<TNode, TScore, TEligibility>(candidates, context);
        }

        return epsilon < 0 ? best : SpreadNearTies<TNode, TScore, TEligibility>(candidates, context, min + epsilon, spread);
    }

    // Nothing scored below +infinity: a real +infinity may still win (it is a valid, if hopeless, load); NaN may not.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int FirstInfinite<TNode, TScore, TEligibility>(ReadOnlySpan<TNode> candidates, in SelectionContext context)
        where TScore : IScore<TNode>
        where TEligibility : IEligibility
    {
        for (int i = 0; i < candidates.Length; i++)
        {
            if (TScore.Read(in candidates[i]) == double.PositiveInfinity && TEligibility.IsAllowed(context, i))
            {
                return i;
            }
        }

        return -1;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int SpreadNearTies<TNode, TScore, TEligibility>(ReadOnlySpan<TNode> candidates, in SelectionContext context, double threshold, uint spread)
        where TScore : IScore<TNode>
        where TEligibility : IEligibility
    {
        int ties = 0;
        for (int i = 0; i < candidates.Length; i++)
        {
            if (TScore.Read(in candidates[i]) <= threshold && TEligibility.IsAllowed(context, i))
            {
                ties++;
            }
        }

        int rank = (int)(spread % (uint)ties);
        for (int i = 0; i < candidates.Length; i++)
        {
            if (TScore.Read(in candidates[i]) <= threshold && TEligibility.IsAllowed(context, i) && rank-- == 0)
            {
                return i;
            }
        }

        return -1;
    }
}
