using Loadwise;
using Loadwise.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers named Loadwise balancers, following <c>AddResiliencePipeline</c> and <c>IHttpClientFactory</c>: one name
/// per balancer, built once on first use, options validated at start, meter, clock and logger from the container.
/// </summary>
/// <example>
/// <code>
/// services.AddLoadwise&lt;Uri&gt;("catalog", b =&gt; b.UsePowerOfTwoChoices().WithHealth().IdentifiedBy(static u =&gt; u.Authority));
/// services.AddLoadwise&lt;Uri&gt;("search", configuration.GetSection("Loadwise:search"));
/// // later: provider.GetRequiredService&lt;ILoadBalancerProvider&lt;Uri&gt;&gt;().GetBalancer("catalog"),
/// // or [FromKeyedServices("catalog")] LoadBalancer&lt;Uri&gt; balancer
/// </code>
/// </example>
public static class LoadwiseServiceCollectionExtensions
{
    /// <summary>Registers a balancer built in code.</summary>
    /// <typeparam name="TNode">The node type.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="name">The balancer's name.</param>
    /// <param name="configure">Configures the builder; may read services from the provider.</param>
    /// <returns>The services.</returns>
    /// <example><code>services.AddLoadwise&lt;Backend&gt;("api", (b, sp) =&gt; b.UseLeastLoad().WithQuotas(sp.GetRequiredService&lt;QuotaTracker&lt;string&gt;&gt;()));</code></example>
    public static IServiceCollection AddLoadwise<TNode>(this IServiceCollection services, string name, Action<LoadBalancerBuilder<TNode>, IServiceProvider> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);
        AddCore<TNode>(services, name);
        services.Configure<LoadBalancerRegistration<TNode>>(name, registration => registration.Callbacks.Add(configure));
        return services;
    }

    /// <summary>Registers a balancer built in code.</summary>
    /// <typeparam name="TNode">The node type.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="name">The balancer's name.</param>
    /// <param name="configure">Configures the builder.</param>
    /// <returns>The services.</returns>
    /// <example><code>services.AddLoadwise&lt;Backend&gt;("api", b =&gt; b.UsePowerOfTwoChoices().WithHealth());</code></example>
    public static IServiceCollection AddLoadwise<TNode>(this IServiceCollection services, string name, Action<LoadBalancerBuilder<TNode>> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return services.AddLoadwise<TNode>(name, (builder, _) => configure(builder));
    }

    /// <summary>
    /// Registers a balancer whose <see cref="LoadBalancerOptions"/> (strategy, health) bind from a configuration
    /// section, validated when the host starts; <paramref name="configure"/> then adds what configuration cannot say.
    /// </summary>
    /// <typeparam name="TNode">The node type.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="name">The balancer's name.</param>
    /// <param name="section">The section, for example <c>configuration.GetSection("Loadwise:catalog")</c>.</param>
    /// <param name="configure">Optional further builder configuration.</param>
    /// <returns>The services.</returns>
    /// <example><code>services.AddLoadwise&lt;Uri&gt;("catalog", configuration.GetSection("Loadwise:catalog"), b =&gt; b.IdentifiedBy(static u =&gt; u.Authority));</code></example>
    public static IServiceCollection AddLoadwise<TNode>(this IServiceCollection services, string name, IConfiguration section, Action<LoadBalancerBuilder<TNode>, IServiceProvider>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(section);
        AddCore<TNode>(services, name);
        services.AddOptions<LoadBalancerOptions>(name).Bind(section).ValidateOnStart();
        services.Configure<LoadBalancerRegistration<TNode>>(name, registration =>
        {
            registration.Section = section;
            if (configure is not null)
            {
                registration.Callbacks.Add(configure);
            }
        });
        return services;
    }

    private static void AddCore<TNode>(IServiceCollection services, string name)
    {
        services.AddOptions();
        services.TryAddSingleton<ILoadBalancerProvider<TNode>, LoadBalancerProvider<TNode>>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LoadBalancerOptions>, LoadBalancerOptionsValidator<TNode>>());
        services.Configure<LoadBalancerRegistration<TNode>>(name, static registration => registration.IsRegistered = true);
        services.TryAddKeyedSingleton<LoadBalancer<TNode>>(name, static (provider, key) =>
            provider.GetRequiredService<ILoadBalancerProvider<TNode>>().GetBalancer((string)key!));
    }
}
