namespace Loadwise.AotProxy.Configuration;

/// <summary>
/// The strategy names the configuration accepts (Strategy:Name and Strategy:Fallback): Core's registry, and PeakEwma,
/// which the proxy makes itself because it needs the forwarder's latency reports.
/// </summary>
/// <example><code>bool known = StrategyNames.IsKnown("leastload"); // names are case-insensitive</code></example>
internal static class StrategyNames
{
    public const string ConsistentHash = StrategyRegistry.ConsistentHashName;

    /// <summary>The latency-aware strategy: P2C over peak-EWMA cost, fed by the forwarder.</summary>
    public const string PeakEwma = "PeakEwma";

    /// <summary>Gets every strategy name, in documentation order.</summary>
    public static readonly string[] All = [.. StrategyRegistry.Names, PeakEwma];

    /// <summary>Gets the names allowed as the fallback of ConsistentHash (everything that needs no key, PeakEwma aside).</summary>
    public static readonly string[] Fallbacks = [.. StrategyRegistry.KeylessNames];

    public static bool IsKnown(string? name) => StrategyRegistry.IsKnown(name) || IsPeakEwma(name);

    /// <summary>Whether the name is PeakEwma, in any case.</summary>
    public static bool IsPeakEwma(string? name) => string.Equals(name, PeakEwma, StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether the strategy picks by a hash key (ConsistentHash, Maglev): it reads Strategy:HashKey and Strategy:Fallback.</summary>
    public static bool IsKeyed(string? name) => StrategyRegistry.IsKnown(name) && !StrategyRegistry.IsKeyless(name);

    /// <summary>Gets the canonical spelling of a configured name.</summary>
    public static string Canonical(string name) => IsPeakEwma(name) ? PeakEwma : StrategyRegistry.IsKnown(name) ? StrategyRegistry.Canonical(name) : name;
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
