namespace Loadwise;

/// <summary>
/// Every capability a strategy chosen by name may read, in one accessor: identity (as a string, which is what
/// configuration, rings and health trackers key by), weight, load and remaining-capacity ratio. The
/// <see cref="StrategyRegistry"/> creates strategies over any node type that has such an accessor.
/// </summary>
/// <typeparam name="TNode">The node type.</typeparam>
/// <example>
/// <code>
/// public readonly struct BackendTraits : INodeTraits&lt;Backend&gt;
/// {
///     public static string GetId(in Backend node) => node.Address;
///     public static int GetWeight(in Backend node) => node.Weight;
///     public static double GetLoad(in Backend node) => node.InFlight;
///     public static double GetRemainingRatio(in Backend node) => 1.0 / (1 + node.InFlight);
/// }
/// ISelectionStrategy&lt;Backend&gt; strategy = StrategyRegistry.Create&lt;Backend, BackendTraits&gt;(new StrategySettings { Name = "LeastLoad" });
/// </code>
/// </example>
public interface INodeTraits<TNode> : INodeAccessor<TNode, string>, IWeightAccessor<TNode>, ILoadAccessor<TNode>, IRemainingRatioAccessor<TNode>
{
}

/// <summary>The built-in <see cref="INodeTraits{TNode}"/> for node types that implement all four capability interfaces.</summary>
/// <typeparam name="TNode">A node type with an identity, a weight, a load score and a remaining ratio.</typeparam>
/// <example>
/// <code>
/// var strategy = StrategyRegistry.Create&lt;BackendNode, NodeTraits&lt;BackendNode&gt;&gt;(new StrategySettings { Name = "PowerOfTwoChoices" });
/// </code>
/// </example>
public readonly struct NodeTraits<TNode> : INodeTraits<TNode>
    where TNode : INode<string>, IWeighted, ILoadMetric, IRemainingCapacity
{
    /// <inheritdoc/>
    public static string GetId(in TNode node) => node.Id;

    /// <inheritdoc/>
    public static int GetWeight(in TNode node) => node.Weight;

    /// <inheritdoc/>
    public static double GetLoad(in TNode node) => node.LoadScore;

    /// <inheritdoc/>
    public static double GetRemainingRatio(in TNode node) => node.RemainingRatio;
}
