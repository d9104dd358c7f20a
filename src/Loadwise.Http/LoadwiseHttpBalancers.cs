using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.ServiceDiscovery;

namespace Loadwise.Http;

/// <summary>
/// The balancers behind the load-balanced <see cref="HttpClient"/>s, one per client name. They outlive the handlers
/// <c>IHttpClientFactory</c> rotates, so health, in-flight counts and quotas carry over from one handler to the next.
/// </summary>
/// <example>
/// <code>
/// var balancers = provider.GetRequiredService&lt;LoadwiseHttpBalancers&gt;();
/// HealthStatus status = balancers.GetBalancer("catalog").Health!.GetStatus("http://10.0.0.1:8080");
/// </code>
/// </example>
public sealed class LoadwiseHttpBalancers
{
    private readonly ConcurrentDictionary<string, Lazy<BalancedClient>> _clients = new(StringComparer.Ordinal);
    private readonly IServiceProvider _services;
    private readonly IOptionsMonitor<LoadwiseHttpOptions> _options;
    private readonly IOptionsMonitor<LoadwiseHttpCallbacks> _callbacks;

    /// <summary>Creates the registry (the container does).</summary>
    /// <param name="services">The container.</param>
    /// <param name="options">The clients' options.</param>
    /// <param name="callbacks">The clients' balancer callbacks.</param>
    /// <example><code>services.AddSingleton&lt;LoadwiseHttpBalancers&gt;();</code></example>
    public LoadwiseHttpBalancers(IServiceProvider services, IOptionsMonitor<LoadwiseHttpOptions> options, IOptionsMonitor<LoadwiseHttpCallbacks> callbacks)
    {
        _services = services;
        _options = options;
        _callbacks = callbacks;
    }

    /// <summary>Returns the balancer of a load-balanced client, creating it on first use.</summary>
    /// <param name="clientName">The <see cref="HttpClient"/>'s name.</param>
    /// <returns>The balancer.</returns>
    /// <example><code>int busy = balancers.GetBalancer("catalog").GetInFlight("http://10.0.0.1:8080");</code></example>
    public LoadBalancer<HttpEndpoint> GetBalancer(string clientName) => Get(clientName).Balancer;

    internal BalancedClient Get(string clientName)
    {
        ArgumentNullException.ThrowIfNull(clientName);
        return _clients.GetOrAdd(clientName, static (name, self) => new Lazy<BalancedClient>(() => self.Create(name)), this).Value;
    }

    private BalancedClient Create(string name)
    {
        LoadwiseHttpOptions options = _options.Get(name);
        TimeProvider time = _services.GetService<TimeProvider>() ?? TimeProvider.System;
        IEndpointSource source = options.Endpoints.Count > 0
            ? new FixedEndpointSource([.. options.Endpoints.Select(static e => new Uri(e, UriKind.Absolute))])
            : _services.GetKeyedService<IEndpointSource>(name)
                ?? (_services.GetService<ServiceEndpointResolver>() is { } resolver ? new ServiceDiscoveryEndpointSource(resolver) : null)
                ?? throw new InvalidOperationException(
                    $"The load-balanced HttpClient '{name}' has no endpoints: set its Endpoints option, register an IEndpointSource with AddLoadwiseEndpointSource, or call services.AddServiceDiscovery().");
        LoadBalancerBuilder<HttpEndpoint> builder = LoadBalancer.For<HttpEndpoint>()
            .Named(name)
            .Configure(options.Balancer)
            .WithTimeProvider(time)
            .WithMeterFactory(_services.GetService<IMeterFactory>());
        foreach (Action<LoadBalancerBuilder<HttpEndpoint>, IServiceProvider> callback in _callbacks.Get(name).Callbacks)
        {
            callback(builder, _services);
        }

        LoadBalancer<HttpEndpoint> balancer = builder.Build();
        return new BalancedClient(options, source, balancer, time);
    }
}

/// <summary>What configuration cannot say about a client's balancer (quotas, predicates): builder callbacks, by client name.</summary>
/// <example><code>services.Configure&lt;LoadwiseHttpCallbacks&gt;("llm", c =&gt; c.Callbacks.Add((b, _) =&gt; b.WithQuotas(quotas)));</code></example>
public sealed class LoadwiseHttpCallbacks
{
    /// <summary>Gets the callbacks, run in order after the options are applied.</summary>
    /// <example><code>callbacks.Callbacks.Add((builder, services) =&gt; builder.Where(static e =&gt; e.Address.Host != "draining"));</code></example>
    public IList<Action<LoadBalancerBuilder<HttpEndpoint>, IServiceProvider>> Callbacks { get; } = [];
}

/// <summary>One load-balanced client's balancer, endpoint source and retry budget.</summary>
internal sealed class BalancedClient(LoadwiseHttpOptions options, IEndpointSource source, LoadBalancer<HttpEndpoint> balancer, TimeProvider time)
{
    private readonly SemaphoreSlim _refreshGate = new(1, 1);
    private EndpointSet? _endpoints;

    public LoadwiseHttpOptions Options { get; } = options;

    public LoadBalancer<HttpEndpoint> Balancer { get; } = balancer;

    public RetryBudget Budget { get; } = new(options.RetryBudgetRatio, options.MinRetriesPerSecond, time);

    public TimeProvider Time { get; } = time;

    /// <summary>Makes sure the balancer holds the source's current endpoints: at first use, then whenever its token fired.</summary>
    public ValueTask EnsureEndpointsAsync(Uri logical, CancellationToken cancellationToken)
    {
        EndpointSet? current = Volatile.Read(ref _endpoints);
        return current is not null && current.ChangeToken is not { HasChanged: true } ? ValueTask.CompletedTask : RefreshAsync(logical, cancellationToken);
    }

    private async ValueTask RefreshAsync(Uri logical, CancellationToken cancellationToken)
    {
        await _refreshGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            EndpointSet? current = Volatile.Read(ref _endpoints);
            if (current is not null && current.ChangeToken is not { HasChanged: true })
            {
                return;
            }

            string service = Options.ServiceName ?? logical.GetLeftPart(UriPartial.Authority);
            EndpointSet fresh = await source.GetEndpointsAsync(service, cancellationToken).ConfigureAwait(false);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var endpoints = new List<HttpEndpoint>(fresh.Endpoints.Count);
            foreach (Uri uri in fresh.Endpoints)
            {
                var endpoint = new HttpEndpoint(uri);
                if (seen.Add(endpoint.Id))
                {
                    endpoints.Add(endpoint);
                }
            }

            Balancer.Update(endpoints);
            Volatile.Write(ref _endpoints, fresh);
        }
        finally
        {
            _refreshGate.Release();
        }
    }
}
