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

/// <summary>
/// The one "lowest score wins" algorithm behind LeastLoad, MostAvailable (on negated ratios) and the PowerOfTwoChoices
/// slow path: gather scores (NaN and masked-out become +infinity), find the SIMD minimum, then pick an index.
/// </summary>
internal static class LowestScore
{
    /// <summary>
    /// Returns the index of the lowest eligible score, or -1. With <paramref name="epsilon"/> &lt; 0 the first exact
    /// minimum wins; otherwise every score within <paramref name="epsilon"/> of the minimum is a near-tie and
    /// <paramref name="spread"/> chooses among them in rotation.
    /// </summary>
    [SkipLocalsInit]
    public static int Select<TNode, TScore>(ReadOnlySpan<TNode> candidates, in SelectionContext context, bool masked, double epsilon, uint spread)
        where TScore : IScore<TNode>
    {
        int count = candidates.Length;
        double[]? rented = null;
        Span<double> scores = count <= ScoreScan.StackLimit
            ? stackalloc double[ScoreScan.StackLimit]
            : (rented = ScoreScan.Rent(count));
        scores = scores[..count];

        for (int i = 0; i < scores.Length; i++)
        {
            double score = TScore.Read(in candidates[i]);
            scores[i] = score < double.PositiveInfinity ? score : double.PositiveInfinity; // NaN never wins
        }

        if (masked)
        {
            ScoreScan.ExcludeMasked(scores, context.Mask);
        }

        double min = ScoreScan.Min(scores);
        int index;
        if (min == double.PositiveInfinity)
        {
            index = FirstInfinite<TNode, TScore>(candidates, context, masked);
        }
        else if (epsilon < 0)
        {
            index = ScoreScan.IndexOf(scores, min);
        }
        else
        {
            double threshold = min + epsilon;
            int ties = ScoreScan.CountAtMost(scores, threshold);
            index = ScoreScan.NthAtMost(scores, threshold, (int)(spread % (uint)ties));
        }

        ScoreScan.Return(rented);
        return index;
    }

    // Rare: every eligible score is +infinity (or nothing is eligible). A real +infinity may still win; NaN may not.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int FirstInfinite<TNode, TScore>(ReadOnlySpan<TNode> candidates, in SelectionContext context, bool masked)
        where TScore : IScore<TNode>
    {
        for (int i = 0; i < candidates.Length; i++)
        {
            if ((!masked || context.Mask.IsAllowed(i)) && TScore.Read(in candidates[i]) == double.PositiveInfinity)
            {
                return i;
            }
        }

        return -1;
    }
}
