namespace Loadwise.Grpc;

/// <summary>
/// The load-balancing policy names Loadwise registers with gRPC, each backed by one Loadwise strategy. Name one in
/// <c>ServiceConfig.LoadBalancingConfigs</c> (with <see cref="LoadwiseBalancingConfig"/>) after
/// <c>services.AddLoadwiseGrpcBalancers()</c>.
/// </summary>
/// <example>
/// <code>
/// var config = new ServiceConfig { LoadBalancingConfigs = { new LoadwiseBalancingConfig(LoadwisePolicies.PowerOfTwoChoices) } };
/// </code>
/// </example>
public static class LoadwisePolicies
{
    /// <summary><c>loadwise_round_robin</c>: Loadwise's RoundRobin over READY subchannels, with health and rests.</summary>
    /// <example><code>new LoadwiseBalancingConfig(LoadwisePolicies.RoundRobin)</code></example>
    public const string RoundRobin = "loadwise_round_robin";

    /// <summary><c>loadwise_p2c</c>: power of two choices over each subchannel's calls in flight.</summary>
    /// <example><code>new LoadwiseBalancingConfig(LoadwisePolicies.PowerOfTwoChoices)</code></example>
    public const string PowerOfTwoChoices = "loadwise_p2c";

    /// <summary><c>loadwise_least_request</c>: the subchannel with the fewest calls in flight (ties take turns).</summary>
    /// <example><code>new LoadwiseBalancingConfig(LoadwisePolicies.LeastRequest)</code></example>
    public const string LeastRequest = "loadwise_least_request";

    /// <summary><c>loadwise_weighted_least_request</c>: Envoy's weighted least request (weight over calls in flight, two samples).</summary>
    /// <example><code>new LoadwiseBalancingConfig(LoadwisePolicies.WeightedLeastRequest)</code></example>
    public const string WeightedLeastRequest = "loadwise_weighted_least_request";

    /// <summary><c>loadwise_wrr</c>: smooth weighted round robin, weights from <see cref="LoadwiseAddressAttributes.Weight"/>.</summary>
    /// <example><code>new LoadwiseBalancingConfig(LoadwisePolicies.WeightedRoundRobin)</code></example>
    public const string WeightedRoundRobin = "loadwise_wrr";

    /// <summary><c>loadwise_ring_hash</c>: a consistent-hash ring keyed by a call metadata entry (<see cref="LoadwiseBalancingConfig.HashHeader"/>).</summary>
    /// <example><code>new LoadwiseBalancingConfig(LoadwisePolicies.RingHash) { HashHeader = "player-id" }</code></example>
    public const string RingHash = "loadwise_ring_hash";

    /// <summary><c>loadwise_maglev</c>: Maglev hashing keyed by a call metadata entry (<see cref="LoadwiseBalancingConfig.HashHeader"/>).</summary>
    /// <example><code>new LoadwiseBalancingConfig(LoadwisePolicies.Maglev) { HashHeader = "conversation-id" }</code></example>
    public const string Maglev = "loadwise_maglev";

    // Policy name -> Core strategy name: the gRPC layer never picks by itself.
    private static readonly (string Policy, string Strategy)[] Table =
    [
        (RoundRobin, "RoundRobin"),
        (PowerOfTwoChoices, "PowerOfTwoChoices"),
        (LeastRequest, "LeastLoad"),
        (WeightedLeastRequest, "WeightedLeastRequest"),
        (WeightedRoundRobin, "WeightedRoundRobin"),
        (RingHash, StrategyRegistry.ConsistentHashName),
        (Maglev, StrategyRegistry.MaglevName),
    ];

    /// <summary>Gets every policy name, in documentation order.</summary>
    /// <example><code>Console.WriteLine(string.Join(", ", LoadwisePolicies.Names));</code></example>
    public static IReadOnlyList<string> Names { get; } = Array.ConvertAll(Table, static e => e.Policy);

    /// <summary>Returns the Loadwise strategy (a <see cref="StrategyRegistry"/> name) behind a policy.</summary>
    /// <param name="policyName">One of <see cref="Names"/> (exact spelling, as gRPC matches policy names).</param>
    /// <returns>The strategy name, for example <c>"LeastLoad"</c> for <c>loadwise_least_request</c>.</returns>
    /// <exception cref="ArgumentException">The policy name is not a Loadwise one; the message lists them.</exception>
    /// <example><code>string strategy = LoadwisePolicies.StrategyOf(LoadwisePolicies.RingHash); // "ConsistentHash"</code></example>
    public static string StrategyOf(string policyName)
    {
        ArgumentNullException.ThrowIfNull(policyName);
        foreach ((string policy, string strategy) in Table)
        {
            if (string.Equals(policy, policyName, StringComparison.Ordinal))
            {
                return strategy;
            }
        }

        throw new ArgumentException($"Unknown Loadwise gRPC policy '{policyName}'; use one of {string.Join(", ", Names)}.", nameof(policyName));
    }
}
