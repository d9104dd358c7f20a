using Grpc.Net.Client.Configuration;

namespace Loadwise.Grpc;

/// <summary>
/// A <see cref="LoadBalancingConfig"/> for one of <see cref="LoadwisePolicies"/>, with typed settings. The same keys
/// work in a JSON service config from a resolver: <c>{"loadwise_ring_hash": {"hashHeader": "player-id"}}</c>.
/// </summary>
/// <remarks>
/// Keys: <c>hashHeader</c> (the call metadata entry hashed by <c>loadwise_ring_hash</c> and <c>loadwise_maglev</c>;
/// required by them), <c>fallback</c> (the keyless strategy for a call without that entry, RoundRobin by default),
/// <c>virtualNodes</c> (ring points per server, 160), <c>healthEnabled</c> (true), <c>failureThreshold</c> (3
/// consecutive UNAVAILABLE or transport failures make a server Unhealthy), <c>probeIntervalSeconds</c> (10: how long
/// an Unhealthy server waits before one call is let through to test it). <see cref="Validate"/> names the key of
/// each problem; the balancer throws the same messages when gRPC creates it.
/// </remarks>
/// <example>
/// <code>
/// var channel = GrpcChannel.ForAddress("static:///lobby", new GrpcChannelOptions
/// {
///     ServiceProvider = services,
///     ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new LoadwiseBalancingConfig(LoadwisePolicies.RingHash) { HashHeader = "player-id" } } },
/// });
/// </code>
/// </example>
public sealed class LoadwiseBalancingConfig : LoadBalancingConfig
{
    /// <summary>The key of <see cref="HashHeader"/>.</summary>
    /// <example><code>// JSON service config: {"loadwise_ring_hash": {"hashHeader": "player-id"}}</code></example>
    public const string HashHeaderKey = "hashHeader";

    /// <summary>The key of <see cref="Fallback"/>.</summary>
    /// <example><code>// JSON service config: {"loadwise_maglev": {"hashHeader": "room", "fallback": "LeastLoad"}}</code></example>
    public const string FallbackKey = "fallback";

    /// <summary>The key of <see cref="VirtualNodes"/>.</summary>
    /// <example><code>// JSON service config: {"loadwise_ring_hash": {"hashHeader": "room", "virtualNodes": 200}}</code></example>
    public const string VirtualNodesKey = "virtualNodes";

    /// <summary>The key of <see cref="HealthEnabled"/>.</summary>
    /// <example><code>// JSON service config: {"loadwise_p2c": {"healthEnabled": false}}</code></example>
    public const string HealthEnabledKey = "healthEnabled";

    /// <summary>The key of <see cref="FailureThreshold"/>.</summary>
    /// <example><code>// JSON service config: {"loadwise_least_request": {"failureThreshold": 5}}</code></example>
    public const string FailureThresholdKey = "failureThreshold";

    /// <summary>The key of <see cref="ProbeIntervalSeconds"/>.</summary>
    /// <example><code>// JSON service config: {"loadwise_round_robin": {"probeIntervalSeconds": 2}}</code></example>
    public const string ProbeIntervalSecondsKey = "probeIntervalSeconds";

    /// <summary>Creates a config for a Loadwise policy.</summary>
    /// <param name="policyName">One of <see cref="LoadwisePolicies.Names"/>.</param>
    /// <exception cref="ArgumentException">The name is not a Loadwise policy; the message lists them.</exception>
    /// <example><code>var config = new LoadwiseBalancingConfig(LoadwisePolicies.LeastRequest);</code></example>
    public LoadwiseBalancingConfig(string policyName)
        : base(policyName)
    {
        _ = LoadwisePolicies.StrategyOf(policyName);
    }

    /// <summary>Gets or sets the call metadata key whose value is hashed (ring and Maglev); lower-case, as gRPC sends it.</summary>
    /// <example><code>config.HashHeader = "player-id";</code></example>
    public string? HashHeader
    {
        get => Get<string>(HashHeaderKey);
        set => Set(HashHeaderKey, value);
    }

    /// <summary>Gets or sets the keyless strategy for a call without the hash entry (RoundRobin when unset).</summary>
    /// <example><code>config.Fallback = "LeastLoad";</code></example>
    public string? Fallback
    {
        get => Get<string>(FallbackKey);
        set => Set(FallbackKey, value);
    }

    /// <summary>Gets or sets the ring points per server of <c>loadwise_ring_hash</c> (1 to 65,536; 160 when unset).</summary>
    /// <example><code>config.VirtualNodes = 200;</code></example>
    public int? VirtualNodes
    {
        get => Get<object>(VirtualNodesKey) is int n ? n : null;
        set => Set<object>(VirtualNodesKey, value);
    }

    /// <summary>Gets or sets whether outcomes decide health and rests (true when unset).</summary>
    /// <example><code>config.HealthEnabled = false; // pick among every READY subchannel whatever the calls return</code></example>
    public bool? HealthEnabled
    {
        get => Get<object>(HealthEnabledKey) is bool b ? b : null;
        set => Set<object>(HealthEnabledKey, value);
    }

    /// <summary>Gets or sets the consecutive failures (UNAVAILABLE or transport) that make a server Unhealthy (3 when unset).</summary>
    /// <example><code>config.FailureThreshold = 5;</code></example>
    public int? FailureThreshold
    {
        get => Get<object>(FailureThresholdKey) is int n ? n : null;
        set => Set<object>(FailureThresholdKey, value);
    }

    /// <summary>Gets or sets how long an Unhealthy server waits before one call tests it, in seconds (10 when unset).</summary>
    /// <example><code>config.ProbeIntervalSeconds = 2;</code></example>
    public double? ProbeIntervalSeconds
    {
        get => Get<object>(ProbeIntervalSecondsKey) is double d ? d : null;
        set => Set<object>(ProbeIntervalSecondsKey, value);
    }

    /// <summary>Checks the settings; each message names the policy and the key.</summary>
    /// <returns>The problems; empty when the config is usable.</returns>
    /// <example><code>foreach (string problem in config.Validate()) Console.Error.WriteLine(problem);</code></example>
    public IReadOnlyList<string> Validate() => LoadwiseBalancerSettings.Parse(PolicyName, Settings, out _);

    private IDictionary<string, object> Settings => (IDictionary<string, object>)Inner[PolicyName];

    private T? Get<T>(string key) => Settings.TryGetValue(key, out object? value) && value is T typed ? typed : default;

    private void Set<T>(string key, T? value)
    {
        if (value is null)
        {
            Settings.Remove(key);
        }
        else
        {
            Settings[key] = value;
        }
    }
}
