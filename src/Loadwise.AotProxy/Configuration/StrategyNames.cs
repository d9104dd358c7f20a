namespace Loadwise.AotProxy.Configuration;

/// <summary>The strategy names the configuration accepts (Strategy:Name and Strategy:Fallback): Core's registry.</summary>
/// <example><code>bool known = StrategyNames.IsKnown("leastload"); // names are case-insensitive</code></example>
internal static class StrategyNames
{
    public const string ConsistentHash = StrategyRegistry.ConsistentHashName;

    /// <summary>Gets every strategy name, in documentation order.</summary>
    public static readonly string[] All = [.. StrategyRegistry.Names];

    /// <summary>Gets the names allowed as the fallback of ConsistentHash (everything that needs no key).</summary>
    public static readonly string[] Fallbacks = [.. StrategyRegistry.KeylessNames];

    public static bool IsKnown(string? name) => StrategyRegistry.IsKnown(name);

    /// <summary>Whether the strategy picks by a hash key (ConsistentHash, Maglev): it reads Strategy:HashKey and Strategy:Fallback.</summary>
    public static bool IsKeyed(string? name) => StrategyRegistry.IsKnown(name) && !StrategyRegistry.IsKeyless(name);

    /// <summary>Gets the canonical spelling of a configured name.</summary>
    public static string Canonical(string name) => StrategyRegistry.IsKnown(name) ? StrategyRegistry.Canonical(name) : name;
}

/// <summary>Where a request's consistent-hashing key comes from (Strategy:HashKey:Source).</summary>
internal enum HashKeyKind
{
    ClientIp,
    Header,
    Cookie,
    Path,
    Query,
}

/// <summary>The names of <see cref="HashKeyKind"/> as the configuration spells them.</summary>
internal static class HashKeyKinds
{
    public static readonly string[] Names = ["ClientIp", "Header", "Cookie", "Path", "Query"];

    public static bool TryParse(string? text, out HashKeyKind kind) => Enum.TryParse(text, ignoreCase: true, out kind) && Enum.IsDefined(kind);
}
