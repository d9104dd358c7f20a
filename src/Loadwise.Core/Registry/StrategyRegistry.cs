using System.Collections.Frozen;

namespace Loadwise;

/// <summary>
/// The strategies that configuration can name, and how to make each one. Adding a strategy is one entry in
/// <see cref="Entries"/>: its name, whether it needs a hash key, and a factory.
/// </summary>
/// <remarks>
/// Names are case-insensitive. A strategy that needs a hash key (ConsistentHash) is wrapped in
/// <see cref="WithFallback{TNode, TPrimary, TFallback}"/> with <see cref="StrategySettings.Fallback"/>, so that a pick
/// without a key still lands somewhere. Creation uses no reflection, so it is trim- and AOT-safe.
/// </remarks>
/// <example>
/// <code>
/// if (StrategyRegistry.IsKnown(configuredName))
/// {
///     ISelectionStrategy&lt;BackendNode&gt; strategy = StrategyRegistry.Create&lt;BackendNode, NodeTraits&lt;BackendNode&gt;&gt;(settings);
/// }
/// </code>
/// </example>
public static class StrategyRegistry
{
    /// <summary>The name of the consistent-hash strategy, the one that needs a key.</summary>
    public const string ConsistentHashName = "ConsistentHash";

    /// <summary>The name of Maglev hashing, which like <see cref="ConsistentHashName"/> needs a key.</summary>
    public const string MaglevName = "Maglev";

    // One entry per strategy, in documentation order.
    private static readonly Entry[] Entries =
    [
        new("RoundRobin", RequiresKey: false, new RoundRobinFactory()),
        new("Random", RequiresKey: false, new RandomFactory()),
        new("WeightedRandom", RequiresKey: false, new WeightedRandomFactory()),
        new("WeightedRoundRobin", RequiresKey: false, new WeightedRoundRobinFactory()),
        new("LeastLoad", RequiresKey: false, new LeastLoadFactory()),
        new("PowerOfTwoChoices", RequiresKey: false, new PowerOfTwoChoicesFactory()),
        new(ConsistentHashName, RequiresKey: true, new ConsistentHashFactory()),
        new("MostAvailable", RequiresKey: false, new MostAvailableFactory()),
        new("WeightedLeastRequest", RequiresKey: false, new WeightedLeastRequestFactory()),
        new(MaglevName, RequiresKey: true, new MaglevFactory()),
    ];

    private static readonly FrozenDictionary<string, Entry> ByName = Entries.ToFrozenDictionary(static e => e.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets every strategy name, in documentation order.</summary>
    /// <example><code>Console.WriteLine(string.Join(", ", StrategyRegistry.Names));</code></example>
    public static IReadOnlyList<string> Names { get; } = Array.ConvertAll(Entries, static e => e.Name);

    /// <summary>Gets the names of the strategies that need no hash key (the ones allowed as a fallback).</summary>
    /// <example><code>bool ok = StrategyRegistry.KeylessNames.Contains("LeastLoad");</code></example>
    public static IReadOnlyList<string> KeylessNames { get; } = Array.ConvertAll(Array.FindAll(Entries, static e => !e.RequiresKey), static e => e.Name);

    /// <summary>Returns whether <paramref name="name"/> names a strategy (case-insensitive).</summary>
    /// <param name="name">The name.</param>
    /// <returns>True when known.</returns>
    /// <example><code>bool known = StrategyRegistry.IsKnown("leastload"); // true</code></example>
    public static bool IsKnown(string? name) => name is not null && ByName.ContainsKey(name);

    /// <summary>Returns whether <paramref name="name"/> names a strategy that needs no hash key.</summary>
    /// <param name="name">The name.</param>
    /// <returns>True when known and keyless.</returns>
    /// <example><code>bool usable = StrategyRegistry.IsKeyless("RoundRobin"); // true</code></example>
    public static bool IsKeyless(string? name) => name is not null && ByName.TryGetValue(name, out Entry? entry) && !entry.RequiresKey;

    /// <summary>Returns whether the named strategy routes by a hash key (and so takes a fallback).</summary>
    /// <param name="name">A known name.</param>
    /// <returns>True for ConsistentHash.</returns>
    /// <exception cref="ArgumentException">The name is unknown.</exception>
    /// <example><code>if (StrategyRegistry.RequiresKey(name)) { /* configure where the key comes from */ }</code></example>
    public static bool RequiresKey(string name) => Find(name).RequiresKey;

    /// <summary>Returns the canonical spelling of a strategy name (for example <c>"LeastLoad"</c> for <c>"leastload"</c>).</summary>
    /// <param name="name">A known name in any case.</param>
    /// <returns>The canonical name.</returns>
    /// <exception cref="ArgumentException">The name is unknown.</exception>
    /// <example><code>string name = StrategyRegistry.Canonical("powerOfTwoChoices"); // "PowerOfTwoChoices"</code></example>
    public static string Canonical(string name) => Find(name).Name;

    /// <summary>Creates the strategy <paramref name="settings"/> names, reading nodes through <typeparamref name="TTraits"/>.</summary>
    /// <typeparam name="TNode">The node type.</typeparam>
    /// <typeparam name="TTraits">Reads identity, weight, load and remaining ratio.</typeparam>
    /// <param name="settings">The name and settings.</param>
    /// <returns>A new strategy; ConsistentHash comes wrapped with its fallback.</returns>
    /// <exception cref="ArgumentException">The settings are invalid; the message lists every problem by key.</exception>
    /// <example>
    /// <code>
    /// var strategy = StrategyRegistry.Create&lt;BackendNode, NodeTraits&lt;BackendNode&gt;&gt;(new StrategySettings { Name = "LeastLoad" });
    /// </code>
    /// </example>
    public static ISelectionStrategy<TNode> Create<TNode, TTraits>(StrategySettings settings)
        where TTraits : INodeTraits<TNode>
    {
        ArgumentNullException.ThrowIfNull(settings);
        IReadOnlyList<string> problems = settings.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems), nameof(settings));
        }

        Entry entry = Find(settings.Name!);
        ISelectionStrategy<TNode>? fallback = entry.RequiresKey ? Find(settings.Fallback!).Factory.Create<TNode, TTraits>(settings, null) : null;
        return entry.Factory.Create<TNode, TTraits>(settings, fallback);
    }

    private static Entry Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return ByName.TryGetValue(name, out Entry? entry)
            ? entry
            : throw new ArgumentException($"Unknown strategy '{name}'; use one of {string.Join(", ", Names)}.", nameof(name));
    }

    private sealed record Entry(string Name, bool RequiresKey, IStrategyFactory Factory);

    // The registry's factories run once per strategy instance, never per pick. A keyed strategy gets its fallback and
    // wraps itself, so that its own type stays concrete inside the WithFallback (no interface call on keyed picks).
    private interface IStrategyFactory
    {
        ISelectionStrategy<TNode> Create<TNode, TTraits>(StrategySettings settings, ISelectionStrategy<TNode>? fallback)
            where TTraits : INodeTraits<TNode>;
    }

    private sealed class RoundRobinFactory : IStrategyFactory
    {
        public ISelectionStrategy<TNode> Create<TNode, TTraits>(StrategySettings settings, ISelectionStrategy<TNode>? fallback)
            where TTraits : INodeTraits<TNode> => new RoundRobin<TNode>();
    }

    private sealed class RandomFactory : IStrategyFactory
    {
        public ISelectionStrategy<TNode> Create<TNode, TTraits>(StrategySettings settings, ISelectionStrategy<TNode>? fallback)
            where TTraits : INodeTraits<TNode> => new Random<TNode>(settings.Seed);
    }

    private sealed class WeightedRandomFactory : IStrategyFactory
    {
        public ISelectionStrategy<TNode> Create<TNode, TTraits>(StrategySettings settings, ISelectionStrategy<TNode>? fallback)
            where TTraits : INodeTraits<TNode> => new WeightedRandom<TNode, TTraits>(settings.Seed);
    }

    private sealed class WeightedRoundRobinFactory : IStrategyFactory
    {
        public ISelectionStrategy<TNode> Create<TNode, TTraits>(StrategySettings settings, ISelectionStrategy<TNode>? fallback)
            where TTraits : INodeTraits<TNode> => new WeightedRoundRobin<TNode, string, TTraits>();
    }

    private sealed class LeastLoadFactory : IStrategyFactory
    {
        public ISelectionStrategy<TNode> Create<TNode, TTraits>(StrategySettings settings, ISelectionStrategy<TNode>? fallback)
            where TTraits : INodeTraits<TNode> => new LeastLoad<TNode, TTraits>();
    }

    private sealed class PowerOfTwoChoicesFactory : IStrategyFactory
    {
        public ISelectionStrategy<TNode> Create<TNode, TTraits>(StrategySettings settings, ISelectionStrategy<TNode>? fallback)
            where TTraits : INodeTraits<TNode> => new PowerOfTwoChoices<TNode, TTraits>(settings.Seed);
    }

    private sealed class ConsistentHashFactory : IStrategyFactory
    {
        public ISelectionStrategy<TNode> Create<TNode, TTraits>(StrategySettings settings, ISelectionStrategy<TNode>? fallback)
            where TTraits : INodeTraits<TNode> =>
            new WithFallback<TNode, ConsistentHash<TNode, string, TTraits>, ISelectionStrategy<TNode>>(
                new ConsistentHash<TNode, string, TTraits>(settings.VirtualNodes), fallback ?? new RoundRobin<TNode>());
    }

    private sealed class MostAvailableFactory : IStrategyFactory
    {
        public ISelectionStrategy<TNode> Create<TNode, TTraits>(StrategySettings settings, ISelectionStrategy<TNode>? fallback)
            where TTraits : INodeTraits<TNode> => new MostAvailable<TNode, TTraits>(settings.Epsilon);
    }

    private sealed class WeightedLeastRequestFactory : IStrategyFactory
    {
        public ISelectionStrategy<TNode> Create<TNode, TTraits>(StrategySettings settings, ISelectionStrategy<TNode>? fallback)
            where TTraits : INodeTraits<TNode> => new WeightedLeastRequest<TNode, TTraits>(seed: settings.Seed);
    }

    private sealed class MaglevFactory : IStrategyFactory
    {
        public ISelectionStrategy<TNode> Create<TNode, TTraits>(StrategySettings settings, ISelectionStrategy<TNode>? fallback)
            where TTraits : INodeTraits<TNode> =>
            new WithFallback<TNode, Maglev<TNode, string, TTraits>, ISelectionStrategy<TNode>>(
                new Maglev<TNode, string, TTraits>(), fallback ?? new RoundRobin<TNode>());
    }
}
