
namespace Loadwise;

/// <summary>
/// nginx's smooth weighted round robin: each pick adds every node's weight to its running score, picks the highest
/// score (ties go to the earlier node) and subtracts the total from it. Weights 5,1,1 give <c>a a b a c a a</c>;
/// weights 5,1 give <c>a a a b a a</c>. Weight 0 is never picked. Over any <c>sum(weights)</c> consecutive picks each
/// node is picked exactly <c>weight</c> times.
/// </summary>
/// <remarks>
/// <para>
/// <b>Lock-free picks.</b> The smooth sequence is periodic with period <c>sum(weights / gcd)</c>. It is computed once
/// per candidate set, so a pick is one atomic increment and one array read. When the period would take more than
/// about four million steps to build, the strategy instead runs the classic algorithm under a short lock.
/// </para>
/// <para>
/// <b>Candidate-set changes.</b> The state belongs to a snapshot of (id, weight) per index. Each pick checks in O(1)
/// that the returned index and one index in rotation still hold the same id and weight; a mismatch (or a new length)
/// rebuilds the snapshot before the pick completes, so a stale node is never returned, and any change is noticed
/// within <c>n</c> picks. A rebuild restarts the smooth sequence, as nginx does when its upstream changes.
/// </para>
/// <para>
/// <b>Masks.</b> A masked node's turns are consumed, not handed to a neighbour: the pick claims the tickets up to the
/// next allowed turn of the smooth sequence in one compare-and-swap. The allowed nodes so follow the smooth sequence
/// with the masked turns taken out, and over every period each allowed node is picked exactly <c>weight</c> times: a
/// masked node's share goes to the allowed nodes in proportion to their weights. The pick costs one atomic however
/// much weight is masked (the scan for the next allowed turn reads the sequence, writes nothing). Weights 5,1,1 with
/// the first node masked give <c>b c b c</c>; with the last masked, <c>a a b a a a</c>.
/// </para>
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TId">The node identity type.</typeparam>
/// <typeparam name="TAccessor">Reads identity and weight; see <see cref="WeightedNodeAccessor{TNode, TId}"/>.</typeparam>
/// <example>
/// <code>
/// var strategy = WeightedRoundRobin.For&lt;Backend, string&gt;(); // Backend : INode&lt;string&gt;, IWeighted
/// strategy.TrySelect(backends, SelectionContext.Empty, out int index);
/// </code>
/// </example>
public sealed class WeightedRoundRobin<TNode, TId, TAccessor> : ISelectionStrategy<TNode>
    where TId : IEquatable<TId>
    where TAccessor : INodeAccessor<TNode, TId>, IWeightAccessor<TNode>
{
    private const long SequenceBuildBudget = 1L << 22;
    private ulong _ticket;
    private Snapshot? _snapshot;

    /// <inheritdoc/>
    public string Name => "WeightedRoundRobin";

    /// <inheritdoc/>
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index)
    {
        int count = candidates.Length;
        bool masked = context.ValidateMask(count);
        if (count == 0)
        {
            index = -1;
            return false;
        }

        // One ticket per pick; a rebuild reuses it so that a candidate-set change costs nobody a turn.
        ulong ticket = Interlocked.Increment(ref _ticket) - 1;
        Snapshot? snapshot = Volatile.Read(ref _snapshot);
        for (int attempt = 0; attempt < 2; attempt++)
        {
            if (snapshot is null || snapshot.Ids.Length != count || (snapshot.Total == 0 && !snapshot.MatchesAll(candidates)))
            {
                snapshot = Rebuild(candidates);
            }

            if (snapshot.Total == 0)
            {
                break;
            }

            int pick;
            if (snapshot.Sequence is { } sequence)
            {
                pick = sequence[(int)(ticket % (ulong)sequence.Length)];
                if (masked && !context.Mask.IsAllowed(pick))
                {
                    pick = ClaimNextAllowedTurn(sequence, ref ticket, context);
                }
            }
            else
            {
                pick = snapshot.StepLocked(candidates, masked, context);
            }

            if (pick == Snapshot.Changed || !snapshot.Matches(candidates, (int)(ticket % (uint)count)) || (pick >= 0 && !snapshot.Matches(candidates, pick)))
            {
                snapshot = null;
                continue;
            }

            index = pick;
            return pick >= 0;
        }

        index = -1;
        return false;
    }

    // A masked node's turn is consumed, not handed to its neighbour in the sequence (that would favour whoever follows
    // a masked node): find the next allowed turn after the tickets already handed out and claim every ticket up to it
    // at once, so that the allowed nodes keep their exact weight proportion at one atomic per pick.
    private int ClaimNextAllowedTurn(int[] sequence, ref ulong ticket, in SelectionContext context)
    {
        CandidateMask mask = context.Mask;
        ulong next = Volatile.Read(ref _ticket);
        while (true)
        {
            int position = (int)(next % (ulong)sequence.Length);
            int skipped = 0;
            while (!mask.IsAllowed(sequence[position]))
            {
                if (++skipped == sequence.Length)
                {
                    return -1; // no allowed node has a turn
                }

                position = position + 1 == sequence.Length ? 0 : position + 1;
            }

            ulong claimed = next + (ulong)skipped;
            ulong seen = Interlocked.CompareExchange(ref _ticket, claimed + 1, next);
            if (seen == next)
            {
                ticket = claimed;
                return sequence[position];
            }

            next = seen; // another pick took tickets meanwhile: look again from there
        }
    }

    private Snapshot Rebuild(ReadOnlySpan<TNode> candidates)
    {
        var snapshot = new Snapshot(candidates);
        Volatile.Write(ref _snapshot, snapshot);
        return snapshot;
    }

    private sealed class Snapshot
    {
        public const int Changed = -2;

        public Snapshot(ReadOnlySpan<TNode> candidates)
        {
            int count = candidates.Length;
            Ids = new TId[count];
            Weights = new int[count];
            int gcd = 0;
            for (int i = 0; i < count; i++)
            {
                Ids[i] = TAccessor.GetId(in candidates[i]);
                Weights[i] = Math.Max(0, TAccessor.GetWeight(in candidates[i]));
                Total += Weights[i];
                gcd = Gcd(gcd, Weights[i]);
            }

            Current = new long[count];
            long period = gcd == 0 ? 0 : Total / gcd;
            if (period > 0 && period * count <= SequenceBuildBudget)
            {
                // Scaling weights by 1/gcd changes no decision, so the reduced sequence is the exact nginx sequence.
                var reduced = new int[count];
                for (int i = 0; i < count; i++)
                {
                    reduced[i] = Weights[i] / gcd;
                }

                Sequence = new int[period];
                var current = new long[count];
                for (int step = 0; step < period; step++)
                {
                    Sequence[step] = SmoothStep(reduced, current, masked: false, default);
                }
            }
        }

        public TId[] Ids { get; }

        public int[] Weights { get; }

        public long Total { get; }

        public int[]? Sequence { get; }

        private long[] Current { get; }

        public bool Matches(ReadOnlySpan<TNode> candidates, int index) =>
            Math.Max(0, TAccessor.GetWeight(in candidates[index])) == Weights[index]
            && TAccessor.GetId(in candidates[index]).Equals(Ids[index]);

        public bool MatchesAll(ReadOnlySpan<TNode> candidates)
        {
            for (int i = 0; i < candidates.Length; i++)
            {
                if (!Matches(candidates, i))
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>The classic algorithm under a lock, for weight sets whose period is too long to precompute.</summary>
        public int StepLocked(ReadOnlySpan<TNode> candidates, bool masked, in SelectionContext context)
        {
            lock (Current)
            {
                return MatchesAll(candidates) ? SmoothStep(Weights, Current, masked, context) : Changed;
            }
        }

        // nginx's smooth step, written once: used to precompute the sequence and on the locked path.
        private static int SmoothStep(int[] weights, long[] current, bool masked, in SelectionContext context)
        {
            long total = 0;
            int best = -1;
            for (int i = 0; i < weights.Length; i++)
            {
                if (weights[i] == 0 || (masked && !context.Mask.IsAllowed(i)))
                {
                    continue;
                }

                current[i] += weights[i];
                total += weights[i];
                if (best < 0 || current[i] > current[best])
                {
                    best = i;
                }
            }

            if (best >= 0)
            {
                current[best] -= total;
            }

            return best;
        }

        private static int Gcd(int a, int b)
        {
            while (b != 0)
            {
                (a, b) = (b, a % b);
            }

            return a;
        }
    }
}

/// <summary>Creates <see cref="WeightedRoundRobin{TNode, TId, TAccessor}"/> for node types that implement <see cref="INode{TId}"/> and <see cref="IWeighted"/>.</summary>
/// <example><code>var strategy = WeightedRoundRobin.For&lt;Backend, string&gt;();</code></example>
public static class WeightedRoundRobin
{
    /// <summary>Creates a smooth weighted round robin over <see cref="INode{TId}.Id"/> and <see cref="IWeighted.Weight"/>.</summary>
    /// <typeparam name="TNode">A node type implementing both capabilities.</typeparam>
    /// <typeparam name="TId">The identity type.</typeparam>
    /// <returns>A new strategy.</returns>
    /// <example><code>var strategy = WeightedRoundRobin.For&lt;Backend, string&gt;();</code></example>
    public static WeightedRoundRobin<TNode, TId, WeightedNodeAccessor<TNode, TId>> For<TNode, TId>()
        where TNode : INode<TId>, IWeighted
        where TId : IEquatable<TId> => new();
}
