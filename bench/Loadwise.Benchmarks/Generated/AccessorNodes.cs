namespace Loadwise.Benchmarks.Generated;

// The same node four ways, to compare what the generator emits with the alternatives a user would otherwise write.

/// <summary>(a) Annotated: the generator emits <c>GeneratedNode.LoadwiseAccessor</c> and <c>GeneratedNode.Selectors</c>.</summary>
public partial struct GeneratedNode
{
    [Node] public int Id;

    [LoadMetric] public double Load;
}

/// <summary>(e) Annotated class: the generated accessor over a reference type (strategies run as shared generic code).</summary>
public partial class GeneratedClassNode
{
    public GeneratedClassNode(double load) => Load = load;

    [LoadMetric] public double Load { get; set; }
}

/// <summary>(b) and (d): a plain struct read by a hand-written accessor or through a delegate.</summary>
public struct PlainNode
{
    public int Id;

    public double Load;
}

/// <summary>(b) The accessor struct a user would write by hand.</summary>
public readonly struct HandWrittenLoadAccessor : ILoadAccessor<PlainNode>
{
    public static double GetLoad(in PlainNode node) => node.Load;
}

/// <summary>(c) The node as a class behind the capability interface; not sealed, so the JIT cannot prove the target.</summary>
public class InterfaceNode : ILoadMetric
{
    public InterfaceNode(double load) => Load = load;

    public double Load { get; set; }

    public double LoadScore => Load;
}

/// <summary>(c) Reads through <see cref="ILoadMetric"/>: the static type is the interface, so every read is an interface call.</summary>
public readonly struct InterfaceLoadAccessor : ILoadAccessor<ILoadMetric>
{
    public static double GetLoad(in ILoadMetric node) => node.LoadScore;
}

/// <summary>(d) A delegate-based accessor: a configurable static Func, invoked once per node.</summary>
public readonly struct DelegateLoadAccessor : ILoadAccessor<PlainNode>
{
    // Deliberately a mutable static field, as a "pluggable accessor" would be; readonly would let the JIT fold it.
    public static Func<PlainNode, double> Read = static node => node.Load;

    public static double GetLoad(in PlainNode node) => Read(node);
}
