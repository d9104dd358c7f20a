namespace Loadwise.Generators.EndToEnd.Tests;

// Annotated node types, one per shape, as a user writes them.

public partial struct Backend
{
    [Node] public string Address { get; init; }

    [Weighted] public int Weight { get; init; }

    [LoadMetric] public double InFlight { get; set; }

    [RemainingCapacity] public double Left { get; set; }
}

public sealed partial class ServerClass
{
    [Node] public required string Name { get; init; }

    [Weighted] public long Weight { get; init; }

    [LoadMetric] public float Load { get; set; }
}

public partial record RecordNode(Guid Key, ushort Share)
{
    [Node] public Guid Key { get; init; } = Key;

    [Weighted] public ushort Share { get; init; } = Share;

    [RemainingCapacity] public decimal Remaining { get; set; }
}

public partial record struct FieldNode
{
    [Node] public int Id;

    [LoadMetric] public long Queue;
}

public static partial class Cluster
{
    public partial struct Member
    {
        [Weighted] public byte Weight { get; init; }

        [LoadMetric] public Half Load { get; set; }
    }
}

public partial struct Keyed<TKey>
    where TKey : IEquatable<TKey>
{
    [Node] public TKey Key { get; init; }

    [Weighted] public ulong Weight { get; init; }
}

/// <summary>The hand-written reference: the same values behind Core's capability interfaces.</summary>
public record struct HandNode<TId>(TId Id, int Weight, double LoadScore, double RemainingRatio) : INode<TId>, IWeighted, ILoadMetric, IRemainingCapacity
    where TId : IEquatable<TId>;
