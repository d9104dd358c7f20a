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
/// slow path. NaN never wins because every comparison with NaN is false. Candidates tied for the lowest score (or
/// within epsilon of it) take turns through a caller-owned rotation counter, as nginx least_conn and HAProxy leastconn
/// rotate among equally loaded servers; otherwise the first of equal nodes would take all traffic whenever loads are
/// equal, as they are at low concurrency.
/// </summary>
/// <remarks>
/// Node scores sit at a stride inside the caller's structs, so a SIMD version would first have to gather them into a
/// buffer; that measured slower over 64 nodes than this single scalar pass (bench/results/core-strategies.md), whose
/// "new minimum" branch is almost never taken and so predicts well. The pass counts exact ties as it goes and keeps the
/// first <see cref="TieIndices"/> of them, so a unique minimum costs nothing more and a few exact ties cost one atomic,
/// no second pass.
/// </remarks>
internal static class LowestScore
{
    /// <summary>
    /// Returns the index of the lowest eligible score, or -1. Every score within <paramref name="epsilon"/> (0 for
    /// exact ties only) of the minimum is a tie; when there are several, <paramref name="rotation"/> is advanced
    /// atomically and chooses among them in turn (the first tie first).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Select<TNode, TScore>(ReadOnlySpan<TNode> candidates, in SelectionContext context, bool masked, double epsilon, ref uint rotation)
        where TScore : IScore<TNode> =>
        masked
            ? Select<TNode, TScore, MaskedCandidates>(candidates, context, epsilon, ref rotation)
            : Select<TNode, TScore, EveryCandidate>(candidates, context, epsilon, ref rotation);

    private static int Select<TNode, TScore, TEligibility>(ReadOnlySpan<TNode> candidates, in SelectionContext context, double epsilon, ref uint rotation)
        where TScore : IScore<TNode>
        where TEligibility : IEligibility
    {
        TieIndices first = default;
        int ties = 0;
        double min = double.PositiveInfinity;
        for (int i = 0; i < candidates.Length; i++)
        {
            // The same compare-and-rarely-branch loop as a plain scan of doubles; NaN fails the compare, and +infinity
            // (a valid, if hopeless, load) passes it while nothing lower has been seen.
            double score = TScore.Read(in candidates[i]);
            if (score <= min && TEligibility.IsAllowed(context, i))
            {
                if (score < min)
                {
                    min = score;
                    ties = 0;
                }

                if (ties < TieIndices.Length)
                {
                    first[ties] = i;
                }

                ties++;
            }
        }

        if (ties == 0)
        {
            return -1;
        }

        if (epsilon > 0)
        {
            return TakeNearTieTurn<TNode, TScore, TEligibility>(candidates, context, min + epsilon, ref rotation, first[0]);
        }

        if (ties == 1)
        {
            return first[0];
        }

        int rank = (int)((Interlocked.Increment(ref rotation) - 1) % (uint)ties);
        return rank < TieIndices.Length
            ? first[rank]
            : NthTie<TNode, TScore, TEligibility>(candidates, context, min, first[TieIndices.Length - 1] + 1, rank - TieIndices.Length, first[0]);
    }

    // Scores within epsilon of the minimum may sit anywhere, before the first minimum too: count them, take a turn.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int TakeNearTieTurn<TNode, TScore, TEligibility>(ReadOnlySpan<TNode> candidates, in SelectionContext context, double threshold, ref uint rotation, int best)
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

        if (ties <= 1)
        {
            return best;
        }

        int rank = (int)((Interlocked.Increment(ref rotation) - 1) % (uint)ties);
        return NthTie<TNode, TScore, TEligibility>(candidates, context, threshold, 0, rank, best);
    }

    // The rank-th eligible score at or below the threshold from start. Loads may change between passes; then the
    // first pass's best is still a sound answer.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int NthTie<TNode, TScore, TEligibility>(ReadOnlySpan<TNode> candidates, in SelectionContext context, double threshold, int start, int rank, int best)
        where TScore : IScore<TNode>
        where TEligibility : IEligibility
    {
        for (int i = start; i < candidates.Length; i++)
        {
            if (TScore.Read(in candidates[i]) <= threshold && TEligibility.IsAllowed(context, i) && rank-- == 0)
            {
                return i;
            }
        }

        return best;
    }

    /// <summary>The first few exact ties, kept by the scan so that a turn among them needs no second pass.</summary>
    [InlineArray(Length)]
    private struct TieIndices
    {
        public const int Length = 8;

        private int _element;
    }
}
