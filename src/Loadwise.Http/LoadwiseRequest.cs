namespace Loadwise.Http;

/// <summary>
/// Per-request options read by the load-balancing handler: a consistent-hashing key, a quota cost and a callback that
/// corrects the cost from the response. Set them on <see cref="HttpRequestMessage.Options"/>.
/// </summary>
/// <example>
/// <code>
/// var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
///     .WithLoadwiseHashKey(conversationId)
///     .WithLoadwiseCost(estimatedTokens, static response =&gt; ReadUsage(response));
/// </code>
/// </example>
public static class LoadwiseRequest
{
    /// <summary>The consistent-hashing key (for example a session or room id); wins over the configured header.</summary>
    public static readonly HttpRequestOptionsKey<string> HashKey = new("Loadwise.HashKey");

    /// <summary>The estimated cost charged to the endpoint's quotas at pick time (for example prompt plus maximum tokens).</summary>
    public static readonly HttpRequestOptionsKey<double> Cost = new("Loadwise.Cost");

    /// <summary>Returns the actual cost from the response (null to keep the estimate); the charge is corrected with it.</summary>
    public static readonly HttpRequestOptionsKey<Func<HttpResponseMessage, double?>> CostFromResponse = new("Loadwise.CostFromResponse");

    /// <summary>Set by the handler: the quota charge of the attempt that answered, to correct later (for example after a stream ends).</summary>
    public static readonly HttpRequestOptionsKey<QuotaCharge> Charge = new("Loadwise.Charge");

    /// <summary>Set by the handler: the endpoint that answered.</summary>
    public static readonly HttpRequestOptionsKey<HttpEndpoint> Endpoint = new("Loadwise.Endpoint");

    internal static readonly HttpRequestOptionsKey<Uri> LogicalUri = new("Loadwise.LogicalUri");

    /// <summary>Sets the consistent-hashing key of the request.</summary>
    /// <param name="request">The request.</param>
    /// <param name="key">The key.</param>
    /// <returns>The request.</returns>
    /// <example><code>request.WithLoadwiseHashKey("room-42");</code></example>
    public static HttpRequestMessage WithLoadwiseHashKey(this HttpRequestMessage request, string key)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(key);
        request.Options.Set(HashKey, key);
        return request;
    }

    /// <summary>Sets the estimated cost of the request and, optionally, how to read the actual cost from the response.</summary>
    /// <param name="request">The request.</param>
    /// <param name="estimatedCost">The estimated cost (for example tokens).</param>
    /// <param name="fromResponse">Reads the actual cost from the response; null to keep the estimate.</param>
    /// <returns>The request.</returns>
    /// <example><code>request.WithLoadwiseCost(1_200, static r =&gt; r.Headers.TryGetValues("x-tokens", out var v) ? double.Parse(v.First()) : null);</code></example>
    public static HttpRequestMessage WithLoadwiseCost(this HttpRequestMessage request, double estimatedCost, Func<HttpResponseMessage, double?>? fromResponse = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Options.Set(Cost, estimatedCost);
        if (fromResponse is not null)
        {
            request.Options.Set(CostFromResponse, fromResponse);
        }

        return request;
    }
}
