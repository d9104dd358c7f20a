using System.Diagnostics.Metrics;
using Grpc.Net.Client.Balancer;
using Loadwise.Grpc;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Loadwise gRPC load-balancing policies in a service collection.</summary>
/// <example>
/// <code>
/// var services = new ServiceCollection().AddLoadwiseGrpcBalancers().BuildServiceProvider();
/// var channel = GrpcChannel.ForAddress("static:///lobby", new GrpcChannelOptions { ServiceProvider = services, ... });
/// </code>
/// </example>
public static class LoadwiseGrpcServiceCollectionExtensions
{
    /// <summary>
    /// Adds one <see cref="LoadBalancerFactory"/> per policy in <see cref="LoadwisePolicies.Names"/>, so that a channel
    /// whose <c>ServiceProvider</c> is built from these services accepts them in <c>ServiceConfig.LoadBalancingConfigs</c>.
    /// gRPC's own <c>pick_first</c> and <c>round_robin</c> stay available. The factories take the container's
    /// <see cref="TimeProvider"/> and <see cref="IMeterFactory"/> when it has them. Calling it again adds nothing.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <returns>The services.</returns>
    /// <example><code>services.AddLoadwiseGrpcBalancers();</code></example>
    public static IServiceCollection AddLoadwiseGrpcBalancers(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (services.Any(static d => d.ServiceType == typeof(Registered)))
        {
            return services;
        }

        services.AddSingleton<Registered>();
        foreach (string policy in LoadwisePolicies.Names)
        {
            services.AddSingleton<LoadBalancerFactory>(sp => new LoadwiseBalancerFactory(policy, sp.GetService<TimeProvider>(), sp.GetService<IMeterFactory>()));
        }

        return services;
    }

    // Marks a collection the factories were added to.
    private sealed class Registered;
}
