using System.Runtime.CompilerServices;

namespace Loadwise.Internal;

/// <summary>Resolves a node id to the tracker's per-node handle; <see cref="Epoch"/> changes when handles are replaced.</summary>
internal interface IHandleSource<TId, THandle>
{
    long Epoch { get; }

    THandle GetHandle(TId id);
}

/// <summary>
/// Maps candidate indices to tracker handles, so that filters read per-node state without a dictionary lookup per
/// candidate per pick. Built once per candidate set; each pick verifies it in O(1) (length, epoch and one rotating
/// index, as the snapshot strategies do), so a changed set is noticed within about n picks and rebuilt.
/// </summary>
internal sealed class CandidateBindings<TNode, TId, TAccessor, THandle>
    where TId : IEquatable<TId>
    where TAccessor : INodeAccessor<TNode, TId>
{
    private readonly TId[] _ids;
    private readonly long _epoch;
    private int _verify;

    private CandidateBindings(TId[] ids, THandle[] handles, long epoch)
    {
        _ids = ids;
        Handles = handles;
        _epoch = epoch;
    }

    public THandle[] Handles { get; }

    public static CandidateBindings<TNode, TId, TAccessor, THandle> Build(ReadOnlySpan<TNode> candidates, IHandleSource<TId, THandle> source)
    {
        long epoch = source.Epoch;
        var ids = new TId[candidates.Length];
        var handles = new THandle[candidates.Length];
        for (int i = 0; i < candidates.Length; i++)
        {
            ids[i] = TAccessor.GetId(in candidates[i]);
            handles[i] = source.GetHandle(ids[i]);
        }

        return new CandidateBindings<TNode, TId, TAccessor, THandle>(ids, handles, epoch);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Matches(ReadOnlySpan<TNode> candidates, long epoch)
    {
        TId[] ids = _ids;
        if (ids.Length != candidates.Length || _epoch != epoch)
        {
            return false;
        }

        if (ids.Length == 0)
        {
            return true;
        }

        // Racy on purpose: any index in range will do, and a lost update only repeats a check.
        int i = _verify;
        if ((uint)i >= (uint)ids.Length)
        {
            i = 0;
        }

        _verify = i + 1 == ids.Length ? 0 : i + 1;
        TId id = TAccessor.GetId(in candidates[i]);
        if (!typeof(TId).IsValueType && ReferenceEquals(ids[i], id))
        {
            return true; // the usual case: the same id object as at bind time, so skip the comparer in shared generic code
        }

        return EqualityComparer<TId>.Default.Equals(ids[i], id);
    }
}
