using System.Globalization;

namespace Loadwise.Grpc;

/// <summary>A policy's configuration dictionary read into Core's settings, with messages that name each key.</summary>
internal sealed class LoadwiseBalancerSettings
{
    private static readonly string[] KnownKeys =
    [
        LoadwiseBalancingConfig.HashHeaderKey, LoadwiseBalancingConfig.FallbackKey, LoadwiseBalancingConfig.VirtualNodesKey,
        LoadwiseBalancingConfig.HealthEnabledKey, LoadwiseBalancingConfig.FailureThresholdKey, LoadwiseBalancingConfig.ProbeIntervalSecondsKey,
    ];

    private LoadwiseBalancerSettings(string policy, LoadBalancerOptions options, string? hashHeader)
    {
        Policy = policy;
        Options = options;
        HashHeader = hashHeader;
    }

    public string Policy { get; }

    public LoadBalancerOptions Options { get; }

    /// <summary>Gets the metadata key hashed for a pick, or null for keyless strategies.</summary>
    public string? HashHeader { get; }

    public static LoadwiseBalancerSettings ParseOrThrow(string policy, IDictionary<string, object>? configuration)
    {
        IReadOnlyList<string> problems = Parse(policy, configuration, out LoadwiseBalancerSettings? settings);
        return problems.Count == 0
            ? settings!
            : throw new ArgumentException(string.Join(" ", problems), nameof(configuration));
    }

    public static IReadOnlyList<string> Parse(string policy, IDictionary<string, object>? configuration, out LoadwiseBalancerSettings? settings)
    {
        var problems = new List<string>();
        settings = null;
        configuration ??= new Dictionary<string, object>();
        string strategyName = LoadwisePolicies.StrategyOf(policy);
        bool keyed = StrategyRegistry.RequiresKey(strategyName);
        foreach (string key in configuration.Keys)
        {
            if (Array.IndexOf(KnownKeys, key) < 0)
            {
                problems.Add($"{policy}:{key}: unknown key; expected one of {string.Join(", ", KnownKeys)} (keys are case-sensitive).");
            }
        }

        string? hashHeader = ReadString(policy, configuration, LoadwiseBalancingConfig.HashHeaderKey, problems);
        if (keyed && string.IsNullOrWhiteSpace(hashHeader))
        {
            problems.Add($"{policy}:{LoadwiseBalancingConfig.HashHeaderKey}: missing; name the call metadata key to hash, for example \"player-id\".");
        }
        else if (!keyed && hashHeader is not null)
        {
            problems.Add($"{policy}:{LoadwiseBalancingConfig.HashHeaderKey}: {policy} does not hash; remove the key or use {LoadwisePolicies.RingHash} or {LoadwisePolicies.Maglev}.");
        }
        else if (hashHeader is not null && !string.Equals(hashHeader, hashHeader.ToLowerInvariant(), StringComparison.Ordinal))
        {
            problems.Add($"{policy}:{LoadwiseBalancingConfig.HashHeaderKey}: got '{hashHeader}'; gRPC metadata keys are lower-case, use '{hashHeader.ToLowerInvariant()}'.");
        }

        var strategy = new StrategySettings { Name = strategyName };
        if (ReadString(policy, configuration, LoadwiseBalancingConfig.FallbackKey, problems) is { } fallback)
        {
            strategy.Fallback = fallback;
        }

        if (ReadNumber(policy, configuration, LoadwiseBalancingConfig.VirtualNodesKey, problems) is { } virtualNodes)
        {
            strategy.VirtualNodes = AsInt(virtualNodes);
        }

        var health = new HealthSettings();
        if (configuration.TryGetValue(LoadwiseBalancingConfig.HealthEnabledKey, out object? enabled))
        {
            if (enabled is bool b)
            {
                health.Enabled = b;
            }
            else
            {
                problems.Add($"{policy}:{LoadwiseBalancingConfig.HealthEnabledKey}: got '{enabled}', expected true or false.");
            }
        }

        if (ReadNumber(policy, configuration, LoadwiseBalancingConfig.FailureThresholdKey, problems) is { } threshold)
        {
            health.FailureThreshold = AsInt(threshold);
        }

        if (ReadNumber(policy, configuration, LoadwiseBalancingConfig.ProbeIntervalSecondsKey, problems) is { } probe)
        {
            health.ProbeIntervalSeconds = probe;
        }

        var options = new LoadBalancerOptions { Strategy = strategy, Health = health };
        foreach (string problem in options.Validate(policy))
        {
            // Core names keys Strategy:Fallback, Health:FailureThreshold...; the service config spells them in camelCase.
            problems.Add(problem
                .Replace($"{policy}:Strategy:Fallback", $"{policy}:{LoadwiseBalancingConfig.FallbackKey}", StringComparison.Ordinal)
                .Replace($"{policy}:Strategy:VirtualNodes", $"{policy}:{LoadwiseBalancingConfig.VirtualNodesKey}", StringComparison.Ordinal)
                .Replace($"{policy}:Health:FailureThreshold", $"{policy}:{LoadwiseBalancingConfig.FailureThresholdKey}", StringComparison.Ordinal)
                .Replace($"{policy}:Health:ProbeIntervalSeconds", $"{policy}:{LoadwiseBalancingConfig.ProbeIntervalSecondsKey}", StringComparison.Ordinal));
        }

        if (problems.Count == 0)
        {
            settings = new LoadwiseBalancerSettings(policy, options, keyed ? hashHeader : null);
        }

        return problems;
    }

    private static int AsInt(double value) => value is >= int.MinValue and <= int.MaxValue ? (int)value : value > 0 ? int.MaxValue : int.MinValue;

    private static string? ReadString(string policy, IDictionary<string, object> configuration, string key, List<string> problems)
    {
        if (!configuration.TryGetValue(key, out object? value) || value is null)
        {
            return null;
        }

        if (value is string text)
        {
            return text;
        }

        problems.Add($"{policy}:{key}: got {value.GetType().Name} '{value}', expected a string.");
        return null;
    }

    private static double? ReadNumber(string policy, IDictionary<string, object> configuration, string key, List<string> problems)
    {
        if (!configuration.TryGetValue(key, out object? value) || value is null)
        {
            return null;
        }

        switch (value)
        {
            case int i:
                return i;
            case long l:
                return l;
            case double d:
                return d;
            case string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed):
                return parsed;
            default:
                problems.Add($"{policy}:{key}: got '{value}', expected a number.");
                return null;
        }
    }
}
