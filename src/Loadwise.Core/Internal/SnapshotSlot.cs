using System.Runtime.CompilerServices;

namespace Loadwise.Internal;

/// <summary>
/// What a strategy that keeps state per candidate set (an alias table, a smooth sequence, a hash ring) tells
/// <see cref="SnapshotSlot{TNode, TSnapshot}"/>: how to build its snapshot, how to check it cheaply, and how to pick
/// with it. Implemented by a struct, so that every call is direct and inlinable; the struct also carries the pick's
/// own state (a ticket, a key).
/// </summary>
internal interface ISnapshotPick<TNode, TSnapshot>
    where TSnapshot : class
{
    /// <summary>Builds a snapshot of <paramref name="candidates"/>.</summary>
    TSnapshot Build(ReadOnlySpan<TNode> candidates);

    /// <summary>
    /// Whether the snapshot may serve <paramref name="candidates"/> before a pick, in O(1) (the length); a snapshot
    /// that can pick nothing (all weights 0) must compare in full, as no pick would check it afterwards.
    /// </summary>
    static abstract bool Fits(TSnapshot snapshot, ReadOnlySpan<TNode> candidates);

    /// <summary>Whether candidate <paramref name="index"/> is still the one the snapshot holds at that index.</summary>
    static abstract bool Matches(TSnapshot snapshot, ReadOnlySpan<TNode> candidates, int index);

    /// <summary>
    /// Picks with the snapshot: an index, -1 for none, or <see cref="SnapshotSlot{TNode, TSnapshot}.Changed"/> when the
    /// pick itself saw the candidates change. <paramref name="probe"/> names one more index to check besides the pick.
    /// </summary>
    int Pick(TSnapshot snapshot, ReadOnlySpan<TNode> candidates, in SelectionContext context, out int probe);
}

/// <summary>
/// The one validate / rebuild / retry step of the snapshot strategies (WeightedRandom, WeightedRoundRobin,
/// ConsistentHash). Recomputing a fingerprint of every candidate per pick would be O(n), so a pick checks in O(1) that
/// the length fits and that the returned index and one more index still hold what the snapshot was built from; a
/// mismatch rebuilds the snapshot and picks again before returning, so a changed slot is never returned, and any
/// change is noticed within about n picks.
/// </summary>
internal struct SnapshotSlot<TNode, TSnapshot>
    where TSnapshot : class
{
    /// <summary>A pick's answer meaning "the candidates changed while I picked": rebuild and pick again.</summary>
    public const int Changed = -2;

    private TSnapshot? _current;

    /// <summary>Picks through <paramref name="pick"/> with a snapshot that matches <paramref name="candidates"/>; -1 for none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Select<TPick>(ReadOnlySpan<TNode> candidates, in SelectionContext context, ref TPick pick)
        where TPick : struct, ISnapshotPick<TNode, TSnapshot>
    {
        TSnapshot? snapshot = Volatile.Read(ref _current);
        for (int attempt = 0; attempt < 2; attempt++)
        {
            if (snapshot is null || !TPick.Fits(snapshot, candidates))
            {
                snapshot = pick.Build(candidates);
                Volatile.Write(ref _current, snapshot);
            }

            int index = pick.Pick(snapshot, candidates, in context, out int probe);
            if (index != Changed
                && TPick.Matches(snapshot, candidates, probe)
                && (index < 0 || TPick.Matches(snapshot, candidates, index)))
            {
                return index;
            }

            snapshot = null; // the candidate set changed under us: rebuild and pick again
        }

        return -1;
    }
}
