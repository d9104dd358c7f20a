using System.Collections.Concurrent;

namespace Loadwise.Http;

/// <summary>
/// One endpoint a load-balanced <see cref="HttpClient"/> can send to: a scheme, host and port (and optionally a base
/// path). Its identity is its absolute URI without a trailing slash, which health and quota trackers key by.
/// </summary>
/// <example>
/// <code>
/// var endpoint = new HttpEndpoint(new Uri("http://10.0.0.5:8080"));
/// Console.WriteLine(endpoint.Id); // "http://10.0.0.5:8080"
/// </code>
/// </example>
public sealed class HttpEndpoint : INode<string>
{
    /// <summary>Creates an endpoint.</summary>
    /// <param name="address">An absolute http or https URI, without query or fragment.</param>
    /// <exception cref="ArgumentException">The address is relative, not http(s), or has a query or fragment.</exception>
    /// <example><code>var endpoint = new HttpEndpoint(new Uri("https://eu.api.example.com"));</code></example>
    public HttpEndpoint(Uri address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!address.IsAbsoluteUri || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps)
            || address.Query.Length > 0 || address.Fragment.Length > 0)
        {
            throw new ArgumentException($"Endpoint '{address}' must be an absolute http:// or https:// URI without query or fragment, for example http://10.0.0.5:8080.", nameof(address));
        }

        Address = address;
        Prefix = address.GetLeftPart(UriPartial.Path).TrimEnd('/');
        Id = Prefix;
    }

    /// <summary>Gets the endpoint's address.</summary>
    /// <example><code>string host = endpoint.Address.Host;</code></example>
    public Uri Address { get; }

    /// <summary>Gets the identity: <c>scheme://host:port[/base]</c> without a trailing slash.</summary>
    /// <example><code>string id = endpoint.Id;</code></example>
    public string Id { get; }

    internal string Prefix { get; }

    /// <summary>Parses an endpoint from configuration text.</summary>
    /// <param name="text">An absolute http(s) URI.</param>
    /// <returns>The endpoint.</returns>
    /// <exception cref="ArgumentException">The text is not an absolute http(s) URI.</exception>
    /// <example><code>HttpEndpoint e = HttpEndpoint.Parse("http://localhost:5001");</code></example>
    public static HttpEndpoint Parse(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out Uri? uri)
            ? new HttpEndpoint(uri)
            : throw new ArgumentException($"Endpoint '{text}' is not an absolute URI; write it as http://host:port.", nameof(text));

    /// <summary>Rewrites <paramref name="logical"/> to this endpoint: scheme, host and port (and base path) replaced, path and query kept.</summary>
    /// <param name="logical">The request's URI.</param>
    /// <returns>The URI to send to.</returns>
    /// <example><code>Uri target = endpoint.Rewrite(new Uri("http://catalog/items?page=2")); // http://10.0.0.5:8080/items?page=2</code></example>
    public Uri Rewrite(Uri logical)
    {
        ArgumentNullException.ThrowIfNull(logical);
        // Most clients send the same few paths again and again: a rewritten URI is kept per logical URI text (Uri is
        // immutable, so requests can share one), up to a bound so that paths with ids in them cannot grow it for ever.
        string key = logical.OriginalString;
        if (_rewritten.TryGetValue(key, out Uri? cached))
        {
            return cached;
        }

        var target = new Uri(string.Concat(Prefix, logical.PathAndQuery), UriKind.Absolute);
        if (_rewritten.Count < MaxRewrittenKept)
        {
            _rewritten.TryAdd(key, target);
        }

        return target;
    }

    /// <summary>The most rewritten URIs kept per endpoint.</summary>
    internal const int MaxRewrittenKept = 256;

    private readonly ConcurrentDictionary<string, Uri> _rewritten = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public override string ToString() => Id;
}
