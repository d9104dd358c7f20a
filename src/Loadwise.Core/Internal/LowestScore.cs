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
/// buffer. Measured on the reference machine, gather + vector min + index search took ~1.5x longer over 64 nodes than
/// this single scalar pass, whose "new minimum" branch is almost never taken and so predicts well. The pass counts
/// exact ties as it goes, so a unique minimum costs no second pass and no atomic.
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
        int best = -1;
        int ties = 0;
        double min = double.PositiveInfinity;
        for (int i = 0; i < candidates.Length; i++)
        {
            // The same compare-and-rarely-branch loop as a plain scan of doubles; NaN fails the compare. The first
            // eligible score is taken even at +infinity (a valid, if hopeless, load).
            double score = TScore.Read(in candidates[i]);
            if (score <= min && TEligibility.IsAllowed(context, i))
            {
                if (score < min || best < 0)
                {
                    min = score;
                    best = i;
                    ties = 1;
                }
                else
                {
                    ties++;
                }
            }
        }

        if (best < 0 || (ties == 1 && epsilon == 0))
        {
            return best;
        }

        return TakeTurn<TNode, TScore, TEligibility>(candidates, context, min + epsilon, epsilon == 0 ? ties : 0, ref rotation, best);
    }

    // Several candidates tie (or, with epsilon, may): count them if the first pass could not, then take the next turn.
    // Loads may change between the passes; then the first pass's best is still a sound answer.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int TakeTurn<TNode, TScore, TEligibility>(ReadOnlySpan<TNode> candidates, in SelectionContext context, double threshold, int ties, ref uint rotation, int best)
        where TScore : IScore<TNode>
        where TEligibility : IEligibility
    {
        // Exact ties all sit at or after the first minimum; near-ties may come before it.
        int first = ties == 0 ? 0 : best;
        if (ties == 0)
        {
            for (int i = 0; i < candidates.Length; i++)
            {
                if (TScore.Read(in candidates[i]) <= threshold && TEligibility.IsAllowed(context, i))
                {
                    ties++;
                }
            }
        }

        if (ties <= 1)
        {
            return best;
        }

        int rank = (int)((Interlocked.Increment(ref rotation) - 1) % (uint)ties);
        for (int i = first; i < candidates.Length; i++)
        {
            if (TScore.Read(in candidates[i]) <= threshold && TEligibility.IsAllowed(context, i) && rank-- == 0)
            {
                return i;
            }
        }

        return best;
    }
}
