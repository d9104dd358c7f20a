namespace Loadwise;

// Strategies are generic over an accessor struct with static abstract members: the JIT compiles one copy of each
// algorithm per (node, accessor) pair and inlines the member read, so there is no interface call in a pick loop.

/// <summary>Reads a node's identity without interface dispatch.</summary>
/// <typeparam name="TNode">The node type.</typeparam>
/// <typeparam name="TId">The identity type.</typeparam>
/// <example>
/// <code>
/// public readonly struct BackendId : INodeAccessor&lt;Backend, string&gt;
/// {
///     public static string GetId(in Backend node) => node.Address;
/// }
/// </code>
/// </example>
public interface INodeAccessor<TNode, TId>
    where TId : IEquatable<TId>
{
    /// <summary>Returns the identity of <paramref name="node"/>.</summary>
    /// <param name="node">The node to read.</param>
    /// <returns>The node's identity.</returns>
    /// <example><code>string id = BackendId.GetId(in backend);</code></example>
    static abstract TId GetId(in TNode node);
}

/// <summary>Reads a node's weight without interface dispatch.</summary>
/// <typeparam name="TNode">The node type.</typeparam>
/// <example>
/// <code>
/// public readonly struct BackendWeight : IWeightAccessor&lt;Backend&gt;
/// {
///     public static int GetWeight(in Backend node) => node.Weight;
/// }
/// </code>
/// </example>
public interface IWeightAccessor<TNode>
{
    /// <summary>Returns the weight of <paramref name="node"/>; negative values are treated as 0.</summary>
    /// <param name="node">The node to read.</param>
    /// <returns>The node's weight.</returns>
    /// <example><code>int w = BackendWeight.GetWeight(in backend);</code></example>
    static abstract int GetWeight(in TNode node);
}

/// <summary>Reads a node's load score (lower is better) without interface dispatch.</summary>
/// <typeparam name="TNode">The node type.</typeparam>
/// <example>
/// <code>
/// public readonly struct BackendLoad : ILoadAccessor&lt;Backend&gt;
/// {
///     public static double GetLoad(in Backend node) => node.InFlight;
/// }
/// </code>
/// </example>
public interface ILoadAccessor<TNode>
{
    /// <summary>Returns the load score of <paramref name="node"/>.</summary>
    /// <param name="node">The node to read.</param>
    /// <returns>The load score; NaN means unknown and never wins.</returns>
    /// <example><code>double load = BackendLoad.GetLoad(in backend);</code></example>
    static abstract double GetLoad(in TNode node);
}

/// <summary>Reads a node's remaining-capacity ratio (higher is better) without interface dispatch.</summary>
/// <typeparam name="TNode">The node type.</typeparam>
/// <example>
/// <code>
/// public readonly struct ProviderCapacity : IRemainingRatioAccessor&lt;Provider&gt;
/// {
///     public static double GetRemainingRatio(in Provider node) => node.Left;
/// }
/// </code>
/// </example>
public interface IRemainingRatioAccessor<TNode>
{
    /// <summary>Returns the remaining-capacity ratio of <paramref name="node"/>, 0..1.</summary>
    /// <param name="node">The node to read.</param>
    /// <returns>The ratio; NaN means unknown and never wins.</returns>
    /// <example><code>double left = ProviderCapacity.GetRemainingRatio(in provider);</code></example>
    static abstract double GetRemainingRatio(in TNode node);
}

/// <summary>The built-in identity accessor for node types that implement <see cref="INode{TId}"/> by hand.</summary>
/// <typeparam name="TNode">A node type implementing <see cref="INode{TId}"/>.</typeparam>
/// <typeparam name="TId">The identity type.</typeparam>
/// <example>
/// <code>
/// var ring = new ConsistentHash&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;();
/// </code>
/// </example>
public readonly struct NodeAccessor<TNode, TId> : INodeAccessor<TNode, TId>
    where TNode : INode<TId>
    where TId : IEquatable<TId>
{
    /// <inheritdoc/>
    public static TId GetId(in TNode node) => node.Id;
}

/// <summary>The built-in weight accessor for node types that implement <see cref="IWeighted"/> by hand.</summary>
/// <typeparam name="TNode">A node type implementing <see cref="IWeighted"/>.</typeparam>
/// <example>
/// <code>
/// var random = new WeightedRandom&lt;Backend, WeightAccessor&lt;Backend&gt;&gt;();
/// </code>
/// </example>
public readonly struct WeightAccessor<TNode> : IWeightAccessor<TNode>
    where TNode : IWeighted
{
    /// <inheritdoc/>
    public static int GetWeight(in TNode node) => node.Weight;
}

/// <summary>The built-in identity-and-weight accessor for types that implement <see cref="INode{TId}"/> and <see cref="IWeighted"/>.</summary>
/// <typeparam name="TNode">A node type implementing both capabilities.</typeparam>
/// <typeparam name="TId">The identity type.</typeparam>
/// <example>
/// <code>
/// var wrr = new WeightedRoundRobin&lt;Backend, string, WeightedNodeAccessor&lt;Backend, string&gt;&gt;();
/// </code>
/// </example>
public readonly struct WeightedNodeAccessor<TNode, TId> : INodeAccessor<TNode, TId>, IWeightAccessor<TNode>
    where TNode : INode<TId>, IWeighted
    where TId : IEquatable<TId>
{
    /// <inheritdoc/>
    public static TId GetId(in TNode node) => node.Id;

    /// <inheritdoc/>
    public static int GetWeight(in TNode node) => node.Weight;
}

/// <summary>The built-in load accessor for node types that implement <see cref="ILoadMetric"/> by hand.</summary>
/// <typeparam name="TNode">A node type implementing <see cref="ILoadMetric"/>.</typeparam>
/// <example>
/// <code>
/// var leastLoad = new LeastLoad&lt;Backend, LoadAccessor&lt;Backend&gt;&gt;();
/// </code>
/// </example>
public readonly struct LoadAccessor<TNode> : ILoadAccessor<TNode>
    where TNode : ILoadMetric
{
    /// <inheritdoc/>
    public static double GetLoad(in TNode node) => node.LoadScore;
}

/// <summary>The built-in remaining-ratio accessor for node types that implement <see cref="IRemainingCapacity"/> by hand.</summary>
/// <typeparam name="TNode">A node type implementing <see cref="IRemainingCapacity"/>.</typeparam>
/// <example>
/// <code>
/// var mostAvailable = new MostAvailable&lt;Provider, RemainingRatioAccessor&lt;Provider&gt;&gt;();
/// </code>
/// </example>
public readonly struct RemainingRatioAccessor<TNode> : IRemainingRatioAccessor<TNode>
    where TNode : IRemainingCapacity
{
    /// <inheritdoc/>
    public static double GetRemainingRatio(in TNode node) => node.RemainingRatio;
}

/// <summary>
/// Uses the candidate itself as its identity, so that identity-based strategies run over plain values such as a
/// <c>string[]</c> of addresses.
/// </summary>
/// <typeparam name="T">The candidate type, which is also its identity.</typeparam>
/// <example>
/// <code>
/// var ring = new ConsistentHash&lt;string, string, SelfIdAccessor&lt;string&gt;&gt;();
/// ring.TrySelect(["10.0.0.1:80", "10.0.0.2:80"], SelectionContext.ForKey("user-1"), out int index);
/// </code>
/// </example>
public readonly struct SelfIdAccessor<T> : INodeAccessor<T, T>
    where T : IEquatable<T>
{
    /// <inheritdoc/>
    public static T GetId(in T node) => node;
}
