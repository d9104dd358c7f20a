namespace Loadwise.Generators.Model;

/// <summary>The node capabilities an attribute can mark. The order is the emission order.</summary>
internal enum Capability
{
    /// <summary>[Node]: the member is the node's identity (INode&lt;TId&gt;).</summary>
    Identity,

    /// <summary>[Weighted]: the member is the node's integer weight (IWeighted).</summary>
    Weight,

    /// <summary>[LoadMetric]: the member is the node's load, lower is better (ILoadMetric).</summary>
    Load,

    /// <summary>[RemainingCapacity]: the member is the remaining-capacity ratio (IRemainingCapacity).</summary>
    RemainingCapacity,

    /// <summary>[Priority]: the member is the node's priority level, 0 = primary (IPrioritized).</summary>
    Priority,
}

/// <summary>How the accessor turns the member's value into what Core's accessor interface returns.</summary>
internal enum ValueConversion
{
    /// <summary>The value is returned as is (or widened implicitly).</summary>
    None,

    /// <summary>An integer wider than int: saturated to 0..int.MaxValue.</summary>
    SaturateToInt32,

    /// <summary>A numeric type other than double: cast to double.</summary>
    ToDouble,
}
