namespace Loadwise;

/// <summary>
/// A node with an identity. Strategies that keep per-node state (<see cref="WeightedRoundRobin{TNode, TId, TAccessor}"/>)
/// or place nodes on a ring (<see cref="ConsistentHash{TNode, TId, TAccessor}"/>) key that state by this id.
/// </summary>
/// <typeparam name="TId">The identity type; equal ids mean the same node.</typeparam>
/// <example>
/// <code>
/// public readonly record struct Backend(string Address) : INode&lt;string&gt;
/// {
///     public string Id => Address;
/// }
/// </code>
/// </example>
public interface INode<TId>
    where TId : IEquatable<TId>
{
    /// <summary>Gets the node's identity. Two nodes with equal ids are the same node.</summary>
    /// <example><code>string id = backend.Id;</code></example>
    TId Id { get; }
}

/// <summary>A node with a non-negative integer weight. Weight 0 means "never pick".</summary>
/// <example>
/// <code>
/// public readonly record struct Backend(string Address, int Weight) : IWeighted;
/// </code>
/// </example>
public interface IWeighted
{
    /// <summary>Gets the node's weight; must be 0 or more. A negative weight is treated as 0.</summary>
    /// <example><code>int w = backend.Weight;</code></example>
    int Weight { get; }
}

/// <summary>A node with a load score. Lower is better; <see cref="double.NaN"/> means "unknown" and never wins.</summary>
/// <example>
/// <code>
/// public record struct Backend(string Address, double LoadScore) : ILoadMetric;
/// </code>
/// </example>
public interface ILoadMetric
{
    /// <summary>Gets the node's load score: lower means less loaded.</summary>
    /// <example><code>double load = backend.LoadScore;</code></example>
    double LoadScore { get; }
}

/// <summary>
/// A node that reports how much capacity it has left, as a ratio from 0 (exhausted) to 1 (idle).
/// A quota tracker is the usual source.
/// </summary>
/// <example>
/// <code>
/// public record struct Provider(string Name, double RemainingRatio) : IRemainingCapacity;
/// </code>
/// </example>
public interface IRemainingCapacity
{
    /// <summary>Gets the remaining-capacity ratio: 1 is idle, 0 is exhausted. Higher is better.</summary>
    /// <example><code>double left = provider.RemainingRatio;</code></example>
    double RemainingRatio { get; }
}
