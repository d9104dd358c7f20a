using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Loadwise.Internal;

/// <summary>
/// One Maglev lookup table, immutable once built: entry <c>j</c> holds the index of the node that owns slot <c>j</c>.
/// Each node walks its own permutation of the slots (offset and skip from two stable hashes of its id) and claims the
/// next free slot on its turn; with weights, a node of weight w takes a turn in w of every max-weight rounds (Envoy's
/// weighted Maglev), so the entry counts follow the weights.
/// </summary>
internal sealed class MaglevTable<TId>
    where TId : IEquatable<TId>
{
    private readonly int _size;
    private readonly bool[] _owns;

    public MaglevTable(TId[] ids, int[] weights, int size)
    {
        Ids = ids;
        Weights = weights;
        _size = size;
        Entries = new int[size];
        _owns = new bool[ids.Length];
        Fill(ids, weights, size);
    }

    public TId[] Ids { get; }

    public int[] Weights { get; }

    public int[] Entries { get; }

    public static bool IsPrime(int value)
    {
        if (value < 2 || value % 2 == 0)
        {
            return value == 2;
        }

        for (int divisor = 3; (long)divisor * divisor <= value; divisor += 2)
        {
            if (value % divisor == 0)
            {
                return false;
            }
        }

        return true;
    }

    // Lemire's multiply-shift maps the position's high 32 bits onto [0, M) without a division.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Slot(ulong position) => (int)(((position >> 32) * (ulong)(uint)_size) >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Owner(ulong position) => Entries[Slot(position)];

    public bool Owns(int index) => _owns[index];

    private void Fill(TId[] ids, int[] weights, int size)
    {
        int count = ids.Length;
        var nodes = new List<int>(count);
        var seen = new HashSet<TId>(count);
        long maxWeight = 0;
        for (int i = 0; i < count; i++)
        {
            if (seen.Add(ids[i]) && weights[i] > 0)
            {
                nodes.Add(i);
                maxWeight = Math.Max(maxWeight, weights[i]);
            }
        }

        if (nodes.Count == 0)
        {
            Array.Fill(Entries, -1); // no node can own a key (otherwise the fill below writes every entry)
            return;
        }

        // Turns go in the order of the ids' hashes, not the candidates', so that the table does not depend on the order
        // the candidates come in.
        var idHashes = new Dictionary<int, ulong>(nodes.Count);
        foreach (int node in nodes)
        {
            idHashes[node] = StableHash.OfId(ids[node]);
        }

        nodes.Sort((a, b) => idHashes[a] != idHashes[b] ? idHashes[a].CompareTo(idHashes[b]) : a.CompareTo(b));
        int n = nodes.Count;
        var position = new int[n];
        var skip = new int[n];
        var target = new long[n];
        for (int j = 0; j < n; j++)
        {
            ulong idHash = idHashes[nodes[j]];
            position[j] = (int)(StableHash.Combine(idHash, 0x6D61676C65764F66UL) % (ulong)size);
            skip[j] = (int)(StableHash.Combine(idHash, 0x6D61676C6576536BUL) % (ulong)(size - 1)) + 1;
        }

        // Occupancy is probed in a bitmap (8 KiB at M = 65,537, in L1) rather than in the 4-byte entries. The probe loop
        // runs about M ln M times in all, so it reads the bitmap without bounds checks (slot < size always holds).
        var taken = new ulong[(size + 63) >> 6];
        ref ulong bits = ref MemoryMarshal.GetArrayDataReference(taken);
        int filled = 0;
        for (long round = 1; filled < size; round++)
        {
            for (int j = 0; j < n && filled < size; j++)
            {
                int node = nodes[j];
                if (round * weights[node] < target[j])
                {
                    continue; // a lighter node sits out this round
                }

                target[j] += maxWeight;
                int slot = position[j];
                int step = skip[j];
                while ((Unsafe.Add(ref bits, slot >> 6) & (1UL << slot)) != 0)
                {
                    slot += step;
                    if (slot >= size)
                    {
                        slot -= size;
                    }
                }

                Unsafe.Add(ref bits, slot >> 6) |= 1UL << slot;
                Entries[slot] = node;
                _owns[node] = true;
                filled++;
                slot += step;
                position[j] = slot >= size ? slot - size : slot;
            }
        }
    }
}
