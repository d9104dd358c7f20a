using System.Collections.Frozen;
using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.Routing;

/// <summary>Makes a Core strategy from its configured name and options.</summary>
internal static class StrategyFactory
{
    public const string ConsistentHashName = "ConsistentHash";

    /// <summary>Gets every strategy name the configuration accepts, in documentation order.</summary>
    public static readonly string[] Names =
    [
        "RoundRobin", "Random", "WeightedRandom", "WeightedRoundRobin", "LeastLoad", "PowerOfTwoChoices", ConsistentHashName, "MostAvailable",
    ];

    private static readonly FrozenSet<string> NameSet = Names.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets the names allowed as the fallback of ConsistentHash (everything that needs no key).</summary>
    public static readonly string[] FallbackNames = Array.FindAll(Names, static n => n != ConsistentHashName);

    public static bool IsKnown(string? name) => name is not null && NameSet.Contains(name);

    /// <summary>Creates the configured strategy; ConsistentHash is wrapped so that a keyless request uses the fallback.</summary>
    public static ISelectionStrategy<BackendNode> Create(StrategyOptions options)
    {
        string name = options.Name ?? "RoundRobin";
        if (string.Equals(name, ConsistentHashName, StringComparison.OrdinalIgnoreCase))
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
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, $"Unknown strategy; use one of {string.Join(", ", FallbackNames)}."),
    };

    /// <summary>Gets the canonical spelling of a configured name (names are case-insensitive in the file).</summary>
    public static string Canonical(string name) => Array.Find(Names, n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase)) ?? name;
}
