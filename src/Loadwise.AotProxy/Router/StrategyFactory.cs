using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.Router;

/// <summary>Makes a Core strategy from its configured name and options, through Core's <see cref="StrategyRegistry"/>.</summary>
internal static class StrategyFactory
{
    /// <summary>Creates the configured strategy; ConsistentHash comes wrapped so that a keyless request uses the fallback.</summary>
    public static ISelectionStrategy<BackendNode> Create(StrategyOptions options) =>
        StrategyRegistry.Create<BackendNode, NodeTraits<BackendNode>>(new StrategySettings
        {
            Name = options.Name ?? "RoundRobin",
            Seed = options.Seed,
            VirtualNodes = options.VirtualNodes,
            Epsilon = options.Epsilon,
            Fallback = options.Fallback ?? "RoundRobin",
        });
}
