using System.Net;
using Microsoft.Extensions.ServiceDiscovery;

namespace Loadwise.Http;

/// <summary>
/// Endpoints from Microsoft.Extensions.ServiceDiscovery (configuration, DNS, or any provider registered with
/// <c>services.AddServiceDiscovery()</c>), refreshed whenever its change token fires. Only the endpoint list is taken
/// from it; Loadwise does the picking.
/// </summary>
/// <param name="resolver">The service discovery resolver from the container.</param>
/// <example><code>IEndpointSource source = new ServiceDiscoveryEndpointSource(provider.GetRequiredService&lt;ServiceEndpointResolver&gt;());</code></example>
public sealed class ServiceDiscoveryEndpointSource(ServiceEndpointResolver resolver) : IEndpointSource
{
    /// <inheritdoc/>
    public async ValueTask<EndpointSet> GetEndpointsAsync(string serviceName, CancellationToken cancellationToken)
    {
        ServiceEndpointSource source = await resolver.GetEndpointsAsync(serviceName, cancellationToken).ConfigureAwait(false);
        string scheme = SchemeOf(serviceName);
        var endpoints = new List<Uri>(source.Endpoints.Count);
        foreach (ServiceEndpoint endpoint in source.Endpoints)
        {
            if (ToUri(endpoint.EndPoint, scheme) is { } uri)
            {
                endpoints.Add(uri);
            }
        }

        return new EndpointSet(endpoints, source.ChangeToken);
    }

    // "https+http://catalog" prefers https; the scheme is used only for endpoints that carry none (DNS, IP).
    private static string SchemeOf(string serviceName)
    {
        int end = serviceName.IndexOf("://", StringComparison.Ordinal);
        string schemes = end > 0 ? serviceName[..end] : Uri.UriSchemeHttp;
        int plus = schemes.IndexOf('+', StringComparison.Ordinal);
        return plus > 0 ? schemes[..plus] : schemes;
    }

    private static Uri? ToUri(EndPoint endPoint, string scheme) => endPoint switch
    {
        UriEndPoint uri => uri.Uri,
        DnsEndPoint dns => new UriBuilder(scheme, dns.Host, dns.Port).Uri,
        IPEndPoint ip => new UriBuilder(scheme, ip.Address.ToString(), ip.Port).Uri,
        _ => null,
    };
}
