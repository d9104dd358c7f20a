using System.Numerics;
using System.Runtime.CompilerServices;

namespace Loadwise;

/// <summary>
/// A virtual-node hash ring: each node owns <see cref="VirtualNodes"/> points at
/// <c>StableHash.Combine(StableHash.OfId(id), vnodeIndex)</c>, and a key goes to the owner of the first point at or
/// after <c>Mix(HashKey)</c>, wrapping around. Adding one node to N moves about 1/(N+1) of the keys; removing one moves
/// only that node's keys. Every hash is <see cref="StableHash"/>, so a key maps to the same node in every process.
/// </summary>
/// <remarks>
/// <para>
/// <b>No hash key, no pick.</b> Without <see cref="SelectionContext.HashKey"/> the strategy returns false instead of
/// sending every unkeyed request to one node. Compose it: <c>WithFallback(ConsistentHash, RoundRobin)</c> routes keyed
/// requests by key and spreads the rest.
/// </para>
/// <para>
/// <b>Lookup.</b> The ring is built once per candidate set. A bucket table indexed by the key's top bits narrows each
/// lookup to a couple of ring points, so a pick costs about two cache misses even at 1,000 nodes x 160 points.
/// </para>
/// <para>
/// <b>Candidate-set changes.</b> Each pick checks in O(1) that the chosen index and one index picked by the key still
/// hold the ids the ring was built from; a mismatch or a new length rebuilds the ring first, so a stale node is never
/// returned. <b>Masks.</b> A masked-out owner passes the key clockwise to the next allowed owner, as removing the
/// node would. <b>Duplicates.</b> If an id appears twice, its first index owns its points.
/// </para>
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TId">The identity type: string, an integer type, Guid or <see cref="IStableHashable"/>.</typeparam>
/// <typeparam name="TAccessor">Reads the identity; see <see cref="NodeAccessor{TNode, TId}"/>.</typeparam>
/// <example>
/// <code>
/// var ring = ConsistentHash.For&lt;Backend, string&gt;();
/// var context = SelectionContext.ForKey("user-42");
/// ring.TrySelect(backends, in context, out int index); // same backend for user-42 every time
/// </code>
/// </example>
public sealed class ConsistentHash<TNode, TId, TAccessor> : IHashPlacement<TNode>
    where TId : IEquatable<TId>
    where TAccessor : INodeAccessor<TNode, TId>
{
    /// <summary>The default number of ring points per node.</summary>
    public const int DefaultVirtualNodes = 160;

    /// <summary>The largest accepted number of ring points per node.</summary>
    public const int MaxVirtualNodes = 65_536;

    private Ring? _ring;

    /// <summary>Creates the ring strategy.</summary>
    /// <param name="virtualNodes">Ring points per node, 1..65,536 (default 160). More points spread keys more evenly.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="virtualNodes"/> is outside 1..65,536.</exception>
    /// <example><code>var ring = new ConsistentHash&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;(virtualNodes: 320);</code></example>
    public ConsistentHash(int virtualNodes = DefaultVirtualNodes)
    {
        if (virtualNodes is < 1 or > MaxVirtualNodes)
        {
            throw new ArgumentOutOfRangeException(nameof(virtualNodes), virtualNodes, $"Virtual nodes per node must be 1..{MaxVirtualNodes}; {DefaultVirtualNodes} is the default.");
        }

        VirtualNodes = virtualNodes;
    }

    /// <summary>Gets the number of ring points per node.</summary>
    /// <example><code>int points = ring.VirtualNodes * nodes.Length;</code></example>
    public int VirtualNodes { get; }

    /// <inheritdoc/>
    public string Name => "ConsistentHash";

    /// <inheritdoc/>
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index)
    {
        int count = candidates.Length;
        bool masked = context.ValidateMask(count);
        if (count == 0 || !context.HasHashKey)
        {
            index = -1;
            return false;
        }

        ulong key = Mix(context.HashKeyValue);
        Ring? ring = Volatile.Read(ref _ring);
        for (int attempt = 0; attempt < 2; attempt++)
        {
            if (ring is null || ring.Ids.Length != count)
            {
                ring = Rebuild(candidates);
            }

            int point = ring.FirstPointAtOrAfter(key);
            int owner = ring.Owners[point];
            if (masked && !context.Mask.IsAllowed(owner))
            {
                owner = ring.NextAllowedOwner(point, context.Mask);
            }

            int probe = (int)(((key & 0xFFFF_FFFFUL) * (uint)count) >> 32);
            if (ring.Matches(candidates, probe) && (owner < 0 || ring.Matches(candidates, owner)))
            {
                index = owner;
                return owner >= 0;
            }

            ring = null;
        }

        index = -1;
        return false;
    }

    /// <inheritdoc/>
    public int Locate(ReadOnlySpan<TNode> candidates, ulong hashKey, int probe)
    {
        int count = candidates.Length;
        if (count == 0)
        {
            return -1;
        }

        ulong position = HashProbe.Position(hashKey, probe);
        int check = (int)(((position & 0xFFFF_FFFFUL) * (uint)count) >> 32);
        Ring? ring = Volatile.Read(ref _ring);
        if (ring is null || ring.Ids.Length != count || !ring.Matches(candidates, check))
        {
            ring = Rebuild(candidates);
        }

        int owner = ring.Owners[ring.FirstPointAtOrAfter(position)];
        if (!ring.Matches(candidates, owner))
        {
            ring = Rebuild(candidates);
            owner = ring.Owners[ring.FirstPointAtOrAfter(position)];
        }

        return owner;
    }

    // The key is re-mixed so that a caller who passes a raw integer (1, 2, 3, ...) as the key still spreads.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong key) => Internal.RandomSource.Mix(key);

    private Ring Rebuild(ReadOnlySpan<TNode> candidates)
    {
        var ring = new Ring(candidates, VirtualNodes);
        Volatile.Write(ref _ring, ring);
        return ring;
    }

    private sealed class Ring
    {
        private readonly ulong[] _points;
        private readonly int[] _bucketStart;
        private readonly int _bucketShift;

        public Ring(ReadOnlySpan<TNode> candidates, int virtualNodes)
        {
            int count = candidates.Length;
            Ids = new TId[count];
            var seen = new HashSet<TId>(count);
            var points = new List<(ulong Point, int Owner)>(count * virtualNodes);
            for (int i = 0; i < count; i++)
            {
                TId id = TAccessor.GetId(in candidates[i]);
                Ids[i] = id;
                if (!seen.Add(id))
                {
                    continue;
                }

                ulong idHash = StableHash.OfId(id);
                for (int v = 0; v < virtualNodes; v++)
                {
                    points.Add((StableHash.Combine(idHash, (ulong)v), i));
                }
            }

            // Equal points (a 64-bit collision) are ordered by owner index so that the ring is deterministic.
            points.Sort(static (a, b) => a.Point != b.Point ? a.Point.CompareTo(b.Point) : a.Owner.CompareTo(b.Owner));
            _points = new ulong[points.Count];
            Owners = new int[points.Count];
            for (int i = 0; i < points.Count; i++)
            {
                (_points[i], Owners[i]) = points[i];
            }

            // About two points per bucket: the bucket of a key's top bits holds the index of its first candidate point.
            int bits = Math.Clamp(BitOperations.Log2((uint)Math.Max(1, _points.Length)), 1, 24);
            _bucketShift = 64 - bits;
            _bucketStart = new int[(1 << bits) + 1];
            int next = 0;
            for (int bucket = 0; bucket <= 1 << bits; bucket++)
            {
                while (next < _points.Length && (_points[next] >> _bucketShift) < (ulong)bucket)
                {
                    next++;
                }

                _bucketStart[bucket] = next;
            }
        }

        public TId[] Ids { get; }

        public int[] Owners { get; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int FirstPointAtOrAfter(ulong key)
        {
            int bucket = (int)(key >> _bucketShift);
            int point = _bucketStart[bucket];
            int end = _bucketStart[bucket + 1];
            ulong[] points = _points;
            while (point < end && points[point] < key)
            {
                point++;
            }

            return point == points.Length ? 0 : point;
        }

        public int NextAllowedOwner(int point, CandidateMask mask)
        {
            if (mask.CountAllowed() == 0)
            {
                return -1;
            }

            for (int step = 1; step < Owners.Length; step++)
            {
                int owner = Owners[(point + step) % Owners.Length];
                if (mask.IsAllowed(owner))
                {
                    return owner;
                }
            }

            return -1; // only duplicates (which own no points) are allowed
        }

        public bool Matches(ReadOnlySpan<TNode> candidates, int index) => TAccessor.GetId(in candidates[index]).Equals(Ids[index]);
    }
}

/// <summary>Creates <see cref="ConsistentHash{TNode, TId, TAccessor}"/> for node types that implement <see cref="INode{TId}"/>.</summary>
/// <example><code>var ring = ConsistentHash.For&lt;Backend, string&gt;();</code></example>
public static class ConsistentHash
{
    /// <summary>Creates a consistent-hash ring over <see cref="INode{TId}.Id"/>.</summary>
    /// <typeparam name="TNode">A node type implementing <see cref="INode{TId}"/>.</typeparam>
    /// <typeparam name="TId">The identity type.</typeparam>
    /// <param name="virtualNodes">Ring points per node (default 160).</param>
    /// <returns>A new strategy.</returns>
    /// <example><code>var ring = ConsistentHash.For&lt;Backend, string&gt;(virtualNodes: 200);</code></example>
    public static ConsistentHash<TNode, TId, NodeAccessor<TNode, TId>> For<TNode, TId>(int virtualNodes = ConsistentHash<TNode, TId, NodeAccessor<TNode, TId>>.DefaultVirtualNodes)
        where TNode : INode<TId>
        where TId : IEquatable<TId> => new(virtualNodes);
}
