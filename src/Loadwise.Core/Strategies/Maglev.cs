using System.Runtime.CompilerServices;
using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of a prime size M is filled from one
/// permutation per node, in turns proportional to the node's weight; a key goes to <c>table[Mix(key) mod M]</c>. A pick
/// is one hash and one table read. Every node gets M/N entries (within one, or in proportion to its weight), so the
/// spread is even; adding or removing a node moves about twice the keys a ring would (measured in
/// <c>bench/results/hashing-compared.md</c>). Every hash is <see cref="StableHash"/>: a key maps to the same node in every process.
/// </summary>
/// <remarks>
/// <para>
/// <b>No hash key, no pick</b>, as with <see cref="ConsistentHash{TNode, TId, TAccessor}"/>: compose it with a fallback.
/// </para>
/// <para>
/// <b>Snapshot.</b> The table is built once per candidate set (ids and weights). Each pick checks in O(1) that the chosen
/// index and one index picked by the key still hold the id and weight the table was built from; a mismatch or a new
/// length rebuilds it first, so a stale node is never returned. Building costs O(M log M) at worst and allocates the table.
/// </para>
/// <para>
/// <b>Masks.</b> A masked-out owner sends the key along its jump sequence (<see cref="IHashPlacement{TNode}.Locate"/>:
/// independent table positions derived from the key), so the keys of an excluded node spread over all the others;
/// after <c>32</c> jumps an exact scan from the owner decides. <b>Weight 0</b> never owns an entry; if every weight
/// is 0 the pick fails. <b>Duplicates.</b> If an id appears twice, its first index owns its entries.
/// </para>
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TId">The identity type: string, an integer type, Guid or <see cref="IStableHashable"/>.</typeparam>
/// <typeparam name="TAccessor">Reads the identity and the weight; see <see cref="WeightedNodeAccessor{TNode, TId}"/>.</typeparam>
/// <example>
/// <code>
/// var maglev = Maglev.For&lt;Backend, string&gt;();          // M = 65,537
/// var context = SelectionContext.ForKey("user-42");
/// maglev.TrySelect(backends, in context, out int index);  // same backend for user-42 every time
/// </code>
/// </example>
public sealed class Maglev<TNode, TId, TAccessor> : IHashPlacement<TNode>
    where TId : IEquatable<TId>
    where TAccessor : INodeAccessor<TNode, TId>, IWeightAccessor<TNode>
{
    /// <summary>The default table size, a prime (Envoy's default too).</summary>
    public const int DefaultTableSize = 65_537;

    /// <summary>The largest accepted table size, a prime.</summary>
    public const int MaxTableSize = 5_000_011;

    private MaglevTable<TId>? _table;

    /// <summary>Creates the strategy.</summary>
    /// <param name="tableSize">
    /// The lookup table's size M: a prime from 3 to 5,000,011 (default 65,537). Keep M above 100 times the node count
    /// for an imbalance under 1%; the table costs 4 bytes per entry.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tableSize"/> is out of range or not a prime.</exception>
    /// <example><code>var maglev = new Maglev&lt;Backend, string, WeightedNodeAccessor&lt;Backend, string&gt;&gt;(tableSize: 655_373);</code></example>
    public Maglev(int tableSize = DefaultTableSize)
    {
        if (tableSize is < 3 or > MaxTableSize || !MaglevTable<TId>.IsPrime(tableSize))
        {
            throw new ArgumentOutOfRangeException(nameof(tableSize), tableSize, $"The Maglev table size must be a prime from 3 to {MaxTableSize} (for example 65537, 655373 or 5000011), above 100 times the node count for an even spread.");
        }

        TableSize = tableSize;
    }

    /// <summary>Gets the table size M.</summary>
    /// <example><code>int entries = maglev.TableSize; // 65537</code></example>
    public int TableSize { get; }

    /// <inheritdoc/>
    public string Name => "Maglev";

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">More candidates than table entries: choose a larger <c>tableSize</c>.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index)
    {
        int count = candidates.Length;
        bool masked = context.ValidateMask(count);
        if (count == 0 || !context.HasHashKey)
        {
            index = -1;
            return false;
        }

        ulong key = context.HashKeyValue;
        MaglevTable<TId>? table = Volatile.Read(ref _table);
        if (table is not null && table.Ids.Length == count)
        {
            ulong position = HashProbe.Position(key, 0);
            int owner = table.Entries[table.Slot(position)];
            int probe = (int)(((position & 0xFFFF_FFFFUL) * (uint)count) >> 32);
            if (!masked && owner >= 0 && Matches(table, candidates, owner) && Matches(table, candidates, probe))
            {
                index = owner;
                return true;
            }
        }

        return TrySelectSlow(candidates, context, masked, out index);
    }

    /// <inheritdoc/>
    public int Locate(ReadOnlySpan<TNode> candidates, ulong hashKey, int probe)
    {
        if (candidates.Length == 0)
        {
            return -1;
        }

        ulong position = HashProbe.Position(hashKey, probe);
        MaglevTable<TId> table = Current(candidates, position);
        return table.Owner(position);
    }

    // Masked picks, a first pick, and picks after the candidate set changed.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TrySelectSlow(ReadOnlySpan<TNode> candidates, in SelectionContext context, bool masked, out int index)
    {
        ulong key = context.HashKeyValue;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            MaglevTable<TId> table = Current(candidates, HashProbe.Position(key, 0));
            int owner = table.Owner(HashProbe.Position(key, 0));
            if (masked && owner >= 0 && !context.Mask.IsAllowed(owner))
            {
                owner = NextAllowed(table, key, owner, context.Mask);
            }

            if (owner < 0 || Matches(table, candidates, owner))
            {
                index = owner;
                return owner >= 0;
            }

            Volatile.Write(ref _table, null); // changed between the check and the read: rebuild and look again
        }

        index = -1;
        return false;
    }

    private static int NextAllowed(MaglevTable<TId> table, ulong key, int owner, CandidateMask mask)
    {
        for (int probe = 1; probe <= HashProbe.MaxJumps; probe++)
        {
            int jumped = table.Owner(HashProbe.Position(key, probe));
            if (mask.IsAllowed(jumped))
            {
                return jumped;
            }
        }

        // Few allowed nodes own entries: the first allowed one after the owner that owns any, wrapping.
        int count = mask.Count;
        for (int step = 1; step < count; step++)
        {
            int next = (owner + step) % count;
            if (mask.IsAllowed(next) && table.Owns(next))
            {
                return next;
            }
        }

        return -1;
    }

    // The table for this candidate set: the current one when the length and the key's probe index still match.
    private MaglevTable<TId> Current(ReadOnlySpan<TNode> candidates, ulong position)
    {
        MaglevTable<TId>? table = Volatile.Read(ref _table);
        int probe = (int)(((position & 0xFFFF_FFFFUL) * (uint)candidates.Length) >> 32);
        if (table is null || table.Ids.Length != candidates.Length || !Matches(table, candidates, probe) || (table.Owner(position) is int owner && owner >= 0 && !Matches(table, candidates, owner)))
        {
            table = Rebuild(candidates);
        }

        return table;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Matches(MaglevTable<TId> table, ReadOnlySpan<TNode> candidates, int index) =>
        TAccessor.GetWeight(in candidates[index]) == table.Weights[index] && TAccessor.GetId(in candidates[index]).Equals(table.Ids[index]);

    private MaglevTable<TId> Rebuild(ReadOnlySpan<TNode> candidates)
    {
        int count = candidates.Length;
        if (count > TableSize)
        {
            throw new ArgumentException($"{count} candidates do not fit a Maglev table of {TableSize} entries; construct it with a prime tableSize above 100 x {count}.", nameof(candidates));
        }

        var ids = new TId[count];
        var weights = new int[count];
        for (int i = 0; i < count; i++)
        {
            ids[i] = TAccessor.GetId(in candidates[i]);
            weights[i] = TAccessor.GetWeight(in candidates[i]);
        }

        var table = new MaglevTable<TId>(ids, weights, TableSize);
        Volatile.Write(ref _table, table);
        return table;
    }
}

/// <summary>Creates <see cref="Maglev{TNode, TId, TAccessor}"/> for node types that implement <see cref="INode{TId}"/> and <see cref="IWeighted"/>.</summary>
/// <example><code>var maglev = Maglev.For&lt;Backend, string&gt;();</code></example>
public static class Maglev
{
    /// <summary>Creates a Maglev strategy over <see cref="INode{TId}.Id"/> and <see cref="IWeighted.Weight"/>.</summary>
    /// <typeparam name="TNode">A node type implementing <see cref="INode{TId}"/> and <see cref="IWeighted"/>.</typeparam>
    /// <typeparam name="TId">The identity type.</typeparam>
    /// <param name="tableSize">A prime table size (default 65,537).</param>
    /// <returns>A new strategy.</returns>
    /// <example><code>var maglev = Maglev.For&lt;Backend, string&gt;(tableSize: 655_373);</code></example>
    public static Maglev<TNode, TId, WeightedNodeAccessor<TNode, TId>> For<TNode, TId>(int tableSize = Maglev<TNode, TId, WeightedNodeAccessor<TNode, TId>>.DefaultTableSize)
        where TNode : INode<TId>, IWeighted
        where TId : IEquatable<TId> => new(tableSize);
}
