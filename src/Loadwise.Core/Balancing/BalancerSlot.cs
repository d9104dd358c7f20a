using System.Runtime.CompilerServices;

namespace Loadwise;

/// <summary>How a balancer reads a capability that the node type may or may not have.</summary>
internal enum CapabilitySource : byte
{
    /// <summary>The node type lacks it: the balancer's own bookkeeping stands in (in-flight count, quota ratio).</summary>
    Balancer = 0,

    /// <summary>A value type that has it: read once when the snapshot is installed (a struct in the snapshot cannot change).</summary>
    Snapshot = 1,

    /// <summary>A reference type that has it: read on every pick through the interface (no boxing).</summary>
    Live = 2,
}

/// <summary>
/// A balancer's state for one node, kept across snapshots while the node stays in the set, so that in-flight counts
/// survive an update and a lease taken before it is released against the same counter.
/// </summary>
internal sealed class NodeEntry(string id)
{
    private int _inFlight;

    public string Id { get; } = id;

    public int Weight { get; set; } = 1;

    public double SnapshotLoad { get; set; }

    public double SnapshotRatio { get; set; } = 1;

    public CapabilitySource LoadSource { get; set; }

    public CapabilitySource RatioSource { get; set; }

    public NodeQuota? Quota { get; set; }

    public int InFlight => Volatile.Read(ref _inFlight);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Enter() => Interlocked.Increment(ref _inFlight);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Leave() => Interlocked.Decrement(ref _inFlight);
}

/// <summary>What the strategies of a balancer pick from: the user's node and the balancer's entry for it.</summary>
internal readonly struct BalancerSlot<TNode>(TNode node, NodeEntry entry)
{
    public TNode Node { get; } = node;

    public NodeEntry Entry { get; } = entry;
}

/// <summary>
/// Reads every capability of a <see cref="BalancerSlot{TNode}"/>: identity and weight fixed per snapshot, load from
/// the node when it has one and from the in-flight count otherwise, remaining ratio from the quota when there is one.
/// </summary>
internal readonly struct SlotTraits<TNode> : INodeTraits<BalancerSlot<TNode>>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static string GetId(in BalancerSlot<TNode> node) => node.Entry.Id;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int GetWeight(in BalancerSlot<TNode> node) => node.Entry.Weight;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double GetLoad(in BalancerSlot<TNode> node)
    {
        NodeEntry entry = node.Entry;
        return entry.LoadSource switch
        {
            CapabilitySource.Balancer => entry.InFlight,
            CapabilitySource.Snapshot => entry.SnapshotLoad,
            _ => Unsafe.As<ILoadMetric>(node.Node!).LoadScore,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double GetRemainingRatio(in BalancerSlot<TNode> node)
    {
        NodeEntry entry = node.Entry;
        if (entry.Quota is { } quota)
        {
            return quota.RemainingRatio;
        }

        return entry.RatioSource switch
        {
            // No capacity is known: 1 / (1 + in-flight) still ranks an idle node above a busy one.
            CapabilitySource.Balancer => 1.0 / (1 + entry.InFlight),
            CapabilitySource.Snapshot => entry.SnapshotRatio,
            _ => Unsafe.As<IRemainingCapacity>(node.Node!).RemainingRatio,
        };
    }
}

/// <summary>What a node type offers, found once per type without reflection over members (trim- and AOT-safe).</summary>
internal static class NodeShape<TNode>
{
    public static readonly bool IsValueType = typeof(TNode).IsValueType;

    public static readonly CapabilitySource Load = SourceOf(typeof(ILoadMetric).IsAssignableFrom(typeof(TNode)));

    public static readonly CapabilitySource Ratio = SourceOf(typeof(IRemainingCapacity).IsAssignableFrom(typeof(TNode)));

    public static string DefaultId(TNode node) => node switch
    {
        INode<string> identified => identified.Id,
        string text => text,
        null => throw new ArgumentException("A node is null; pass only non-null nodes.", "nodes"),
        _ => node.ToString() ?? throw new ArgumentException($"A {typeof(TNode).Name} node has no identity: implement INode<string>, or call IdentifiedBy on the builder.", "nodes"),
    };

    public static int Weight(TNode node) => node is IWeighted weighted ? Math.Max(0, weighted.Weight) : 1;

    public static double SnapshotLoad(TNode node) => node is ILoadMetric load ? load.LoadScore : 0;

    public static double SnapshotRatio(TNode node) => node is IRemainingCapacity ratio ? ratio.RemainingRatio : 1;

    private static CapabilitySource SourceOf(bool has) =>
        !has ? CapabilitySource.Balancer : IsValueType ? CapabilitySource.Snapshot : CapabilitySource.Live;
}
