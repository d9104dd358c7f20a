using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Picks a candidate at random with probability proportional to its weight, in O(1) per pick through a Vose alias
/// table. Weight 0 is never picked; if every weight is 0 the pick fails.
/// </summary>
/// <remarks>
/// <para>
/// The table is built once per candidate set and reused. Each pick checks in O(1) that the set is still the one the
/// table was built for: the same length, and the same weight at the drawn column and at the returned index. Columns
/// are uniform, so any changed weight is noticed within about <c>n</c> picks; a changed length at once. A stale slot is
/// never returned: a mismatch rebuilds the table before the pick completes.
/// </para>
/// <para>
/// With a mask, a few draws are rejected until an allowed candidate comes up (the conditional distribution is still
/// proportional); after that an exact O(n) draw over the allowed weights decides.
/// </para>
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TAccessor">Reads the weight; see <see cref="WeightAccessor{TNode}"/>.</typeparam>
/// <example>
/// <code>
/// var strategy = WeightedRandom.For&lt;Backend&gt;(); // Backend : IWeighted
/// strategy.TrySelect(backends, SelectionContext.Empty, out int index);
/// </code>
/// </example>
public sealed class WeightedRandom<TNode, TAccessor> : ISelectionStrategy<TNode>
    where TAccessor : IWeightAccessor<TNode>
{
    private const int RejectionDraws = 8;
    private const ulong Always = 1UL << 32;
    private readonly RandomSource _random;
    private AliasTable? _table;

    /// <summary>Creates the strategy.</summary>
    /// <param name="seed">Optional seed for reproducible single-threaded sequences.</param>
    /// <example><code>var strategy = new WeightedRandom&lt;Backend, WeightAccessor&lt;Backend&gt;&gt;(seed: 1);</code></example>
    public WeightedRandom(ulong? seed = null) => _random = new RandomSource(seed);

    /// <inheritdoc/>
    public string Name => "WeightedRandom";

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

        AliasTable? table = Volatile.Read(ref _table);
        for (int attempt = 0; attempt < 2; attempt++)
        {
            if (table is null || table.Weights.Length != count || (table.Total == 0 && !table.MatchesAll(candidates)))
            {
                table = Rebuild(candidates);
            }

            if (table.Total == 0)
            {
                break;
            }

            int drawn = masked ? DrawAllowed(table, context.Mask, out int column) : Draw(table, out column);
            if (table.Matches(candidates, column) && (drawn < 0 || table.Matches(candidates, drawn)))
            {
                index = drawn;
                return drawn >= 0;
            }

            table = null; // the candidate set changed under us: rebuild and draw again
        }

        index = -1;
        return false;
    }

    private int Draw(AliasTable table, out int column)
    {
        ulong random = _random.NextUInt64();
        column = RandomSource.Bounded(random, table.Weights.Length);
        return (random & 0xFFFF_FFFFUL) < table.Thresholds[column] ? column : table.Alias[column];
    }

    private int DrawAllowed(AliasTable table, CandidateMask mask, out int column)
    {
        for (int draw = 0; draw < RejectionDraws; draw++)
        {
            int candidate = Draw(table, out column);
            if (mask.IsAllowed(candidate))
            {
                return candidate;
            }
        }

        // Exact fallback: a uniform point over the allowed weights, found by a linear walk.
        column = 0;
        long allowedTotal = 0;
        int[] weights = table.Weights;
        for (int i = 0; i < weights.Length; i++)
        {
            allowedTotal += mask.IsAllowed(i) ? weights[i] : 0;
        }

        if (allowedTotal == 0)
        {
            return -1;
        }

        long point = _random.NextInt64(allowedTotal);
        for (int i = 0; i < weights.Length; i++)
        {
            if (mask.IsAllowed(i) && (point -= weights[i]) < 0)
            {
                return i;
            }
        }

        return -1;
    }

    private AliasTable Rebuild(ReadOnlySpan<TNode> candidates)
    {
        var table = AliasTable.Build(candidates);
        Volatile.Write(ref _table, table);
        return table;
    }

    private sealed class AliasTable
    {
        private AliasTable(int[] weights, ulong[] thresholds, int[] alias, long total)
        {
            Weights = weights;
            Thresholds = thresholds;
            Alias = alias;
            Total = total;
        }

        public int[] Weights { get; }

        public ulong[] Thresholds { get; }

        public int[] Alias { get; }

        public long Total { get; }

        public static AliasTable Build(ReadOnlySpan<TNode> candidates)
        {
            int count = candidates.Length;
            var weights = new int[count];
            long total = 0;
            for (int i = 0; i < count; i++)
            {
                weights[i] = Math.Max(0, TAccessor.GetWeight(in candidates[i]));
                total += weights[i];
            }

            var thresholds = new ulong[count];
            var alias = new int[count];
            if (total == 0)
            {
                return new AliasTable(weights, thresholds, alias, 0);
            }

            // Vose's method in exact integer arithmetic: each column holds weight*count against an average of total.
            var scaled = new long[count];
            var small = new Stack<int>();
            var large = new Stack<int>();
            for (int i = 0; i < count; i++)
            {
                scaled[i] = (long)weights[i] * count;
                (scaled[i] < total ? small : large).Push(i);
                alias[i] = i;
            }

            while (small.Count > 0 && large.Count > 0)
            {
                int lesser = small.Pop();
                int greater = large.Peek();
                thresholds[lesser] = (ulong)(((UInt128)(ulong)scaled[lesser] << 32) / (ulong)total);
                alias[lesser] = greater;
                scaled[greater] -= total - scaled[lesser];
                if (scaled[greater] < total)
                {
                    small.Push(large.Pop());
                }
            }

            while (large.Count > 0)
            {
                thresholds[large.Pop()] = Always;
            }

            while (small.Count > 0)
            {
                // Only reachable through rounding; such a column keeps itself.
                thresholds[small.Pop()] = Always;
            }

            return new AliasTable(weights, thresholds, alias, total);
        }

        public bool Matches(ReadOnlySpan<TNode> candidates, int index) =>
            Math.Max(0, TAccessor.GetWeight(in candidates[index])) == Weights[index];

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
    }
}

/// <summary>Creates <see cref="WeightedRandom{TNode, TAccessor}"/> for node types that implement <see cref="IWeighted"/>.</summary>
/// <example><code>var strategy = WeightedRandom.For&lt;Backend&gt;();</code></example>
public static class WeightedRandom
{
    /// <summary>Creates a weighted random strategy that reads <see cref="IWeighted.Weight"/>.</summary>
    /// <typeparam name="TNode">A node type implementing <see cref="IWeighted"/>.</typeparam>
    /// <param name="seed">Optional seed for reproducible single-threaded sequences.</param>
    /// <returns>A new strategy.</returns>
    /// <example><code>var strategy = WeightedRandom.For&lt;Backend&gt;(seed: 3);</code></example>
    public static WeightedRandom<TNode, WeightAccessor<TNode>> For<TNode>(ulong? seed = null)
        where TNode : IWeighted => new(seed);
}
