using Microsoft.Extensions.Primitives;

namespace Loadwise.Http;

/// <summary>
/// Where a load-balanced client's endpoints come from. The handler asks once, then again each time the returned
/// change token fires; the balancer's snapshot is replaced without dropping requests in flight.
/// </summary>
/// <example>
/// <code>
/// public sealed class ConsulSource(ConsulClient consul) : IEndpointSource
/// {
///     public async ValueTask&lt;EndpointSet&gt; GetEndpointsAsync(string serviceName, CancellationToken cancellationToken)
///     {
///         var found = await consul.LookupAsync(serviceName, cancellationToken);
///         return new EndpointSet([.. found.Select(s =&gt; new Uri($"http://{s.Address}:{s.Port}"))], changeToken: null);
///     }
/// }
/// </code>
/// </example>
public interface IEndpointSource
{
    /// <summary>Returns the service's current endpoints.</summary>
    /// <param name="serviceName">The service name (the configured one, or the scheme and host of the request URI).</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The endpoints, and a token that fires when they change (null: they never change).</returns>
    /// <example><code>EndpointSet set = await source.GetEndpointsAsync("http://catalog", cancellationToken);</code></example>
    ValueTask<EndpointSet> GetEndpointsAsync(string serviceName, CancellationToken cancellationToken);
}

/// <summary>A set of endpoints and the token that says when it is stale.</summary>
/// <param name="Endpoints">The endpoints (absolute http(s) URIs).</param>
/// <param name="ChangeToken">Fires when the set changes; null when it never does.</param>
/// <example><code>var set = new EndpointSet([new Uri("http://localhost:5001")], ChangeToken: null);</code></example>
public sealed record EndpointSet(IReadOnlyList<Uri> Endpoints, IChangeToken? ChangeToken);

/// <summary>A fixed list of endpoints (from <see cref="LoadwiseHttpOptions.Endpoints"/>).</summary>
/// <param name="endpoints">The endpoints.</param>
/// <example><code>IEndpointSource source = new FixedEndpointSource([new Uri("http://localhost:5001")]);</code></example>
public sealed class FixedEndpointSource(IReadOnlyList<Uri> endpoints) : IEndpointSource
{
    private readonly EndpointSet _set = new(endpoints ?? throw new ArgumentNullException(nameof(endpoints)), null);

    /// <inheritdoc/>
    public ValueTask<EndpointSet> GetEndpointsAsync(string serviceName, CancellationToken cancellationToken) => ValueTask.FromResult(_set);
}
