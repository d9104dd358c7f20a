using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.Router;

/// <summary>Makes a Core strategy from its configured name and options.</summary>
internal static class StrategyFactory
{
    /// <summary>Creates the configured strategy; ConsistentHash is wrapped so that a keyless request uses the fallback.</summary>
    public static ISelectionStrategy<BackendNode> Create(StrategyOptions options)
    {
        string name = options.Name ?? "RoundRobin";
        if (string.Equals(name, StrategyNames.ConsistentHash, StringComparison.OrdinalIgnoreCase))
        {
            var ring = ConsistentHash.For<BackendNode, string>(options.VirtualNodes);
            return new WithFallback<BackendNode, ConsistentHash<BackendNode, string, NodeAccessor<BackendNode, string>>, ISelectionStrategy<BackendNode>>(
                ring, CreateKeyless(options.Fallback ?? "RoundRobin", options));
        }

        return CreateKeyless(name, options);
    }

    private static ISelectionStrategy<BackendNode> CreateKeyless(string name, StrategyOptions options) => name.ToUpperInvariant() switch
    {
        "ROUNDROBIN" => new RoundRobin<BackendNode>(),
        "RANDOM" => new Random<BackendNode>(options.Seed),
        "WEIGHTEDRANDOM" => WeightedRandom.For<BackendNode>(options.Seed),
        "WEIGHTEDROUNDROBIN" => WeightedRoundRobin.For<BackendNode, string>(),
        "LEASTLOAD" => LeastLoad.For<BackendNode>(),
        "POWEROFTWOCHOICES" => PowerOfTwoChoices.For<BackendNode>(options.Seed),
        "MOSTAVAILABLE" => MostAvailable.For<BackendNode>(options.Epsilon),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, $"Unknown strategy; use one of {string.Join(", ", StrategyNames.Fallbacks)}."),
    };
}
