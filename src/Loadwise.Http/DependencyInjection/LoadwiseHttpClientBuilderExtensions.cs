using Loadwise.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Makes a named <see cref="HttpClient"/> load-balanced: its requests go to endpoints picked by Loadwise. Add it after
/// <c>AddStandardResilienceHandler()</c> (or any retrying handler) so that it sits inside the retries and each retry
/// picks anew.
/// </summary>
/// <example>
/// <code>
/// services.AddHttpClient("catalog", c =&gt; c.BaseAddress = new("http://catalog"))
///         .AddStandardResilienceHandler().Services.AddHttpClient("catalog")
///         .AddLoadwise(o =&gt; o.Balancer.Strategy.Name = "PowerOfTwoChoices");
/// </code>
/// </example>
public static class LoadwiseHttpClientBuilderExtensions
{
    /// <summary>Adds the load-balancing handler, configured in code; options are validated when the host starts.</summary>
    /// <param name="builder">The client's builder.</param>
    /// <param name="configure">Sets strategy, endpoints, retries; null for the defaults (round robin, endpoints from service discovery).</param>
    /// <returns>The builder.</returns>
    /// <example><code>services.AddHttpClient("catalog").AddLoadwise(o =&gt; o.Endpoints = ["http://10.0.0.1", "http://10.0.0.2"]);</code></example>
    public static IHttpClientBuilder AddLoadwise(this IHttpClientBuilder builder, Action<LoadwiseHttpOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        OptionsBuilder<LoadwiseHttpOptions> options = builder.Services.AddOptions<LoadwiseHttpOptions>(builder.Name);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        return AddCore(builder, options, $"Loadwise:Http:{builder.Name}");
    }

    /// <summary>Adds the load-balancing handler with options bound from a configuration section, validated when the host starts.</summary>
    /// <param name="builder">The client's builder.</param>
    /// <param name="section">The section, for example <c>configuration.GetSection("Loadwise:Http:catalog")</c>.</param>
    /// <param name="configure">Optional changes after binding.</param>
    /// <returns>The builder.</returns>
    /// <example><code>services.AddHttpClient("catalog").AddLoadwise(configuration.GetSection("Loadwise:Http:catalog"));</code></example>
    public static IHttpClientBuilder AddLoadwise(this IHttpClientBuilder builder, IConfiguration section, Action<LoadwiseHttpOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(section);
        OptionsBuilder<LoadwiseHttpOptions> options = builder.Services.AddOptions<LoadwiseHttpOptions>(builder.Name).Bind(section);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        return AddCore(builder, options, (section as IConfigurationSection)?.Path ?? $"Loadwise:Http:{builder.Name}");
    }

    /// <summary>Takes the client's endpoints from a custom source (used when the Endpoints option is empty).</summary>
    /// <param name="builder">The client's builder.</param>
    /// <param name="factory">Creates the source once.</param>
    /// <returns>The builder.</returns>
    /// <example><code>services.AddHttpClient("catalog").AddLoadwise().AddLoadwiseEndpointSource(sp =&gt; new ConsulSource(sp.GetRequiredService&lt;ConsulClient&gt;()));</code></example>
    public static IHttpClientBuilder AddLoadwiseEndpointSource(this IHttpClientBuilder builder, Func<IServiceProvider, IEndpointSource> factory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.AddKeyedSingleton(builder.Name, (provider, _) => factory(provider));
        return builder;
    }

    /// <summary>Configures the client's balancer beyond its options, for example with quotas or predicates.</summary>
    /// <param name="builder">The client's builder.</param>
    /// <param name="configure">Receives the balancer's builder and the container.</param>
    /// <returns>The builder.</returns>
    /// <example><code>services.AddHttpClient("llm").AddLoadwise().ConfigureLoadwiseBalancer((b, sp) =&gt; b.WithQuotas(sp.GetRequiredService&lt;QuotaTracker&lt;string&gt;&gt;()));</code></example>
    public static IHttpClientBuilder ConfigureLoadwiseBalancer(this IHttpClientBuilder builder, Action<Loadwise.LoadBalancerBuilder<HttpEndpoint>, IServiceProvider> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure<LoadwiseHttpCallbacks>(builder.Name, callbacks => callbacks.Callbacks.Add(configure));
        return builder;
    }

    private static IHttpClientBuilder AddCore(IHttpClientBuilder builder, OptionsBuilder<LoadwiseHttpOptions> options, string path)
    {
        string name = builder.Name;
        builder.Services.AddSingleton<IValidateOptions<LoadwiseHttpOptions>>(new LoadwiseHttpOptionsValidator(name, path));
        options.ValidateOnStart();
        builder.Services.TryAddSingleton<LoadwiseHttpBalancers>();
        builder.Services.Configure<LoadwiseHttpClientNames>(names => names.Names.Add(name));
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, LoadwiseHttpProber>());
        builder.AddHttpMessageHandler(provider => new LoadBalancingHandler(provider.GetRequiredService<LoadwiseHttpBalancers>().Get(name)));
        return builder;
    }
}

/// <summary>Validates one client's <see cref="LoadwiseHttpOptions"/>, naming each key under its configuration path.</summary>
internal sealed class LoadwiseHttpOptionsValidator(string name, string path) : IValidateOptions<LoadwiseHttpOptions>
{
    public ValidateOptionsResult Validate(string? optionsName, LoadwiseHttpOptions options)
    {
        if (!string.Equals(optionsName, name, StringComparison.Ordinal))
        {
            return ValidateOptionsResult.Skip;
        }

        IReadOnlyList<string> problems = options.Validate(path);
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
