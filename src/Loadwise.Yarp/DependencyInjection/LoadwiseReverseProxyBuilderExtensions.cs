using Loadwise.Yarp;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Yarp.ReverseProxy.Configuration.ClusterValidators;
using Yarp.ReverseProxy.LoadBalancing;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the Loadwise load-balancing policies to YARP.</summary>
/// <example>
/// <code>
/// builder.Services.AddReverseProxy()
///     .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
///     .AddLoadwisePolicies();
/// </code>
/// </example>
public static class LoadwiseReverseProxyBuilderExtensions
{
    /// <summary>
    /// Registers every policy of <see cref="LoadwisePolicies"/> under its name, so that a cluster selects one with
    /// <c>"LoadBalancingPolicy": "Loadwise.WeightedRoundRobin"</c> (and so on), and a configuration validator that
    /// checks the <see cref="LoadwiseMetadata"/> keys when YARP loads the configuration. Calling it twice registers
    /// nothing more. <see cref="LoadwisePolicies.PeakEwma"/> also needs
    /// <see cref="Microsoft.AspNetCore.Builder.LoadwiseProxyPipelineExtensions.UseLoadwiseLatency"/> in the proxy pipeline.
    /// </summary>
    /// <param name="builder">YARP's builder, from <c>AddReverseProxy()</c>.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    /// <example><code>services.AddReverseProxy().LoadFromMemory(routes, clusters).AddLoadwisePolicies();</code></example>
    public static IReverseProxyBuilder AddLoadwisePolicies(this IReverseProxyBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoadBalancingPolicy, WeightedRoundRobinPolicy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoadBalancingPolicy, ConsistentHashPolicy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoadBalancingPolicy, MaglevPolicy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoadBalancingPolicy, BoundedLoadPolicy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IClusterValidator, LoadwiseMetadataValidator>());
        if (!services.Any(static d => d.ServiceType == typeof(PeakEwmaPolicy)))
        {
            // One instance serves both the policy list and the latency step, which reports into its trackers.
            services.AddSingleton<PeakEwmaPolicy>();
            services.AddSingleton<ILoadBalancingPolicy>(static provider => provider.GetRequiredService<PeakEwmaPolicy>());
        }

        return builder;
    }
}
