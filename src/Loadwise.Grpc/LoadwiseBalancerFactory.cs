using System.Diagnostics.Metrics;
using Grpc.Net.Client.Balancer;
using GrpcBalancer = global::Grpc.Net.Client.Balancer.LoadBalancer;
using GrpcBalancerOptions = global::Grpc.Net.Client.Balancer.LoadBalancerOptions;

namespace Loadwise.Grpc;

/// <summary>
/// The gRPC <see cref="LoadBalancerFactory"/> of one Loadwise policy (see <see cref="LoadwisePolicies"/>). gRPC finds
/// factories in the channel's <c>GrpcChannelOptions.ServiceProvider</c> and creates a balancer when the service config
/// names the policy; <c>services.AddLoadwiseGrpcBalancers()</c> registers one factory per policy.
/// </summary>
/// <example>
/// <code>
/// var services = new ServiceCollection();
/// services.AddSingleton&lt;LoadBalancerFactory&gt;(new LoadwiseBalancerFactory(LoadwisePolicies.PowerOfTwoChoices));
/// </code>
/// </example>
public sealed class LoadwiseBalancerFactory : LoadBalancerFactory
{
    private readonly TimeProvider _time;
    private readonly IMeterFactory? _meterFactory;

    /// <summary>Creates the factory of one policy.</summary>
    /// <param name="policyName">One of <see cref="LoadwisePolicies.Names"/>.</param>
    /// <param name="timeProvider">The clock of health and rests; null for the system clock (tests pass a fake one).</param>
    /// <param name="meterFactory">Creates the balancers' meter; null for the shared <c>"Loadwise"</c> meter.</param>
    /// <exception cref="ArgumentException">The name is not a Loadwise policy; the message lists them.</exception>
    /// <example><code>var factory = new LoadwiseBalancerFactory(LoadwisePolicies.RingHash, fakeTime);</code></example>
    public LoadwiseBalancerFactory(string policyName, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        _ = LoadwisePolicies.StrategyOf(policyName);
        Name = policyName;
        _time = timeProvider ?? TimeProvider.System;
        _meterFactory = meterFactory;
    }

    /// <summary>Gets the policy name the service config selects this factory by.</summary>
    /// <example><code>Console.WriteLine(factory.Name); // "loadwise_p2c"</code></example>
    public override string Name { get; }

    /// <summary>Creates the balancer of one channel; gRPC calls it with the policy's configuration.</summary>
    /// <param name="options">The channel's controller, logger factory and the policy's configuration (keys of <see cref="LoadwiseBalancingConfig"/>).</param>
    /// <returns>A balancer that rebuilds a Loadwise picker on every subchannel state change.</returns>
    /// <exception cref="ArgumentException">The configuration is invalid; the message names the policy and each key.</exception>
    /// <example><code>// gRPC calls this; applications name the policy in ServiceConfig.LoadBalancingConfigs.</code></example>
    public override GrpcBalancer Create(GrpcBalancerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        LoadwiseBalancerSettings settings = LoadwiseBalancerSettings.ParseOrThrow(Name, options.Configuration);
        return new LoadwiseSubchannelsBalancer(options.Controller, options.LoggerFactory, settings, _time, _meterFactory);
    }
}
