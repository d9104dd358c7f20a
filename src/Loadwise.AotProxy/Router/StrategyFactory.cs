using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.Router;

/// <summary>A configured strategy, and the latency tracker the forwarder reports into when the strategy is PeakEwma.</summary>
/// <param name="Strategy">The strategy the router picks with.</param>
/// <param name="Latency">PeakEwma's tracker (indices are the forwarder's backend indices), or null for other strategies.</param>
/// <example><code>SelectionStrategy made = StrategyFactory.Create(options.Strategy, backends.Length, TimeProvider.System);</code></example>
internal sealed record SelectionStrategy(ISelectionStrategy<BackendNode> Strategy, PeakEwmaTracker? Latency);

/// <summary>
/// Makes a Core strategy from its configured name and options: through Core's <see cref="StrategyRegistry"/>, except
/// PeakEwma (its tracker needs the backend count and the forwarder's reports) and the bounded-load form of
/// ConsistentHash and Maglev (<c>Strategy:HashBalanceFactor</c>), which the registry does not make.
/// </summary>
internal static class StrategyFactory
{
    /// <summary>
    /// Creates the configured strategy for <paramref name="backendCount"/> backends; keyed strategies come wrapped so
    /// that a keyless request uses the fallback. <paramref name="time"/> is PeakEwma's clock (for the decay).
    /// </summary>
    public static SelectionStrategy Create(StrategyOptions options, int backendCount, TimeProvider time)
    {
        string name = StrategyNames.Canonical(options.Name ?? "RoundRobin");
        if (name == StrategyNames.PeakEwma)
        {
            var tracker = new PeakEwmaTracker(backendCount, TimeSpan.FromMilliseconds(options.DecayMs), time);
            return new SelectionStrategy(new PeakEwma<BackendNode>(tracker, options.Seed), tracker);
        }

        var settings = new StrategySettings
        {
            Name = name,
            Seed = options.Seed,
            VirtualNodes = options.VirtualNodes,
            Epsilon = options.Epsilon,
            Fallback = options.Fallback ?? "RoundRobin",
        };
        if (options.HashBalanceFactor == 0 || !StrategyNames.IsKeyed(name))
        {
            return new SelectionStrategy(StrategyRegistry.Create<BackendNode, NodeTraits<BackendNode>>(settings), null);
        }

        // Bounded load (arXiv 1608.01350 with random jumps): the load is each backend's in-flight requests, as
        // HAProxy's hash-balance-factor counts them, over every configuration still forwarding.
        double c = options.HashBalanceFactor / 100.0;
        ISelectionStrategy<BackendNode> fallback = StrategyRegistry.Create<BackendNode, NodeTraits<BackendNode>>(new StrategySettings { Name = settings.Fallback, Seed = options.Seed, VirtualNodes = options.VirtualNodes, Epsilon = options.Epsilon });
        var loads = default(AccessorLoads<BackendNode, NodeTraits<BackendNode>>);
        ISelectionStrategy<BackendNode> bounded = name == StrategyRegistry.MaglevName
            ? new WithFallback<BackendNode, BoundedLoad<BackendNode, Maglev<BackendNode, string, NodeTraits<BackendNode>>, AccessorLoads<BackendNode, NodeTraits<BackendNode>>>, ISelectionStrategy<BackendNode>>(
                new(new Maglev<BackendNode, string, NodeTraits<BackendNode>>(), loads, c), fallback)
            : new WithFallback<BackendNode, BoundedLoad<BackendNode, ConsistentHash<BackendNode, string, NodeTraits<BackendNode>>, AccessorLoads<BackendNode, NodeTraits<BackendNode>>>, ISelectionStrategy<BackendNode>>(
                new(new ConsistentHash<BackendNode, string, NodeTraits<BackendNode>>(options.VirtualNodes), loads, c), fallback);
        return new SelectionStrategy(bounded, null);
    }
}
