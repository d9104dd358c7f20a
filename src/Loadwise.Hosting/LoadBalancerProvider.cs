using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Loadwise.Hosting;

/// <summary>
/// The container's <see cref="ILoadBalancerProvider{TNode}"/>: builds each named balancer once, with the container's
/// <see cref="IMeterFactory"/>, <see cref="TimeProvider"/> and <see cref="ILogger"/> (health changes are logged).
/// </summary>
/// <typeparam name="TNode">The node type.</typeparam>
/// <example><code>var provider = services.GetRequiredService&lt;ILoadBalancerProvider&lt;Uri&gt;&gt;();</code></example>
internal sealed partial class LoadBalancerProvider<TNode>(
    IServiceProvider services,
    IOptionsMonitor<LoadBalancerRegistration<TNode>> registrations,
    IOptionsMonitor<LoadBalancerOptions> options) : ILoadBalancerProvider<TNode>
{
    private readonly ConcurrentDictionary<string, Lazy<LoadBalancer<TNode>>> _balancers = new(StringComparer.Ordinal);

    public LoadBalancer<TNode> GetBalancer(string name) =>
        TryGetBalancer(name, out LoadBalancer<TNode>? balancer)
            ? balancer
            : throw new KeyNotFoundException($"No load balancer of {typeof(TNode).Name} is registered as '{name}'; call services.AddLoadwise<{typeof(TNode).Name}>(\"{name}\", ...).");

    public bool TryGetBalancer(string name, [NotNullWhen(true)] out LoadBalancer<TNode>? balancer)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!registrations.Get(name).IsRegistered)
        {
            balancer = null;
            return false;
        }

        balancer = _balancers.GetOrAdd(name, static (key, self) => new Lazy<LoadBalancer<TNode>>(() => self.Create(key)), this).Value;
        return true;
    }

    private LoadBalancer<TNode> Create(string name)
    {
        LoadBalancerRegistration<TNode> registration = registrations.Get(name);
        LoadBalancerBuilder<TNode> builder = LoadBalancer.For<TNode>()
            .Named(name)
            .WithMeterFactory(services.GetService<IMeterFactory>())
            .WithTimeProvider(services.GetService<TimeProvider>() ?? TimeProvider.System);
        if (registration.Section is not null)
        {
            // Validated at start too (ValidateOnStart); Get throws OptionsValidationException naming the keys.
            builder.Configure(options.Get(name));
        }

        foreach (Action<LoadBalancerBuilder<TNode>, IServiceProvider> callback in registration.Callbacks)
        {
            callback(builder, services);
        }

        LoadBalancer<TNode> balancer = builder.Build();
        ILogger logger = services.GetService<ILoggerFactory>()?.CreateLogger("Loadwise.LoadBalancer") ?? NullLogger.Instance;
        if (balancer.Health is { } health)
        {
            health.HealthChanged += (_, change) => LogHealthChanged(logger, name, change.NodeId, change.From, change.To);
        }

        LogCreated(logger, name, balancer.StrategyName);
        return balancer;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Load balancer '{Balancer}' created with strategy {Strategy}")]
    private static partial void LogCreated(ILogger logger, string balancer, string strategy);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Load balancer '{Balancer}': node {Node} went from {From} to {To}")]
    private static partial void LogHealthChanged(ILogger logger, string balancer, string node, HealthStatus from, HealthStatus to);
}

/// <summary>Checks bound <see cref="LoadBalancerOptions"/> at start; failures name the configuration key.</summary>
/// <typeparam name="TNode">The node type (one validator per registered type).</typeparam>
internal sealed class LoadBalancerOptionsValidator<TNode>(IOptionsMonitor<LoadBalancerRegistration<TNode>> registrations) : IValidateOptions<LoadBalancerOptions>
{
    public ValidateOptionsResult Validate(string? name, LoadBalancerOptions options)
    {
        LoadBalancerRegistration<TNode> registration = registrations.Get(name ?? Options.DefaultName);
        if (registration.Section is not Microsoft.Extensions.Configuration.IConfigurationSection section)
        {
            return ValidateOptionsResult.Skip;
        }

        IReadOnlyList<string> problems = options.Validate(section.Path);
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
