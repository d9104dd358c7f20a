using System.Net;

namespace Loadwise.Http;

/// <summary>
/// Picks an endpoint per request and rewrites the request's scheme, host and port to it (path and query kept). The
/// outcome feeds health: transport errors and 5xx are failures, 429 and 503 with Retry-After rest the endpoint, and a
/// cancellation by the caller reports nothing. In-flight requests are the endpoints' load. An idempotent request that
/// got no response, and any request answered 429, is sent again to an endpoint not yet tried, within a retry budget.
/// </summary>
/// <remarks>
/// The request's URI is restored when the handler returns, so an outer handler that sends the same request again
/// (a resilience retry) has it picked anew. The in-flight count covers the response body too, until it is read to its
/// end or disposed (<see cref="LoadwiseHttpOptions.InFlightUntilBodyEnd"/>).
/// </remarks>
internal sealed class LoadBalancingHandler(BalancedClient client) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Uri logical = request.RequestUri ?? throw new InvalidOperationException("A load-balanced request needs a URI: set the request's RequestUri or the client's BaseAddress.");
        await client.EnsureEndpointsAsync(logical, cancellationToken).ConfigureAwait(false);
        LoadBalancer<HttpEndpoint> balancer = client.Balancer;
        LoadwiseHttpOptions options = client.Options;
        bool hasCost = request.Options.TryGetValue(LoadwiseRequest.Cost, out double cost);
        string? key = HashKeyOf(request, options.HashKeyHeader);
        ulong? hashKey = key is null ? null : StableHash.Hash(key);
        client.Budget.OnRequest();
        string[]? tried = null;
        int attempt = 0;
        try
        {
            while (true)
            {
                attempt++;
                if (!TryPick(balancer, hashKey, cost, tried.AsSpan(0, attempt - 1), out NodeLease<HttpEndpoint> lease))
                {
                    throw NoEndpoint(balancer, attempt);
                }

                request.RequestUri = lease.Node.Rewrite(logical);
                HttpResponseMessage response;
                try
                {
                    response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    lease.Dispose(); // the caller gave up: says nothing about the endpoint
                    throw;
                }
                catch (HttpRequestException) when (attempt < options.MaxAttempts && IsIdempotent(request) && client.Budget.TryWithdraw())
                {
                    Remember(ref tried, attempt, options.MaxAttempts, lease.NodeId);
                    lease.Dispose(Outcome.Failure);
                    continue;
                }
                catch
                {
                    lease.Dispose(Outcome.Failure);
                    throw;
                }

                Outcome outcome = Classify(response, client.Time);
                if (outcome.Kind == OutcomeKind.RateLimited && options.RetryRateLimited && attempt < options.MaxAttempts
                    && CanResend(request) && client.Budget.TryWithdraw())
                {
                    Remember(ref tried, attempt, options.MaxAttempts, lease.NodeId);
                    lease.Dispose(outcome);
                    response.Dispose();
                    continue;
                }

                if (hasCost)
                {
                    if (request.Options.TryGetValue(LoadwiseRequest.CostFromResponse, out Func<HttpResponseMessage, double?>? read) && read(response) is double actual)
                    {
                        lease.CorrectCost(actual);
                    }

                    request.Options.Set(LoadwiseRequest.Charge, lease.Charge);
                }

                if (options.InFlightUntilBodyEnd && response.Content is { } body && !IsBodiless(request, response))
                {
                    // The request stays in flight until its body ends (a stream is load for as long as it lasts).
                    response.Content = new LeasedContent(body, lease, outcome);
                }
                else
                {
                    lease.Dispose(outcome);
                }

                return response;
            }
        }
        finally
        {
            request.RequestUri = logical;
        }
    }

    // The context is a ref struct, so it is made here, outside the async method.
    private static bool TryPick(LoadBalancer<HttpEndpoint> balancer, ulong? hashKey, double cost, ReadOnlySpan<string> tried, out NodeLease<HttpEndpoint> lease)
    {
        var context = new SelectionContext { HashKey = hashKey, EstimatedCost = cost };
        return balancer.TryAcquire(in context, tried, out lease);
    }

    internal static Outcome Classify(HttpResponseMessage response, TimeProvider time)
    {
        int status = (int)response.StatusCode;
        if (status == (int)HttpStatusCode.TooManyRequests || (status == (int)HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is not null))
        {
            return Outcome.RateLimited(RetryAfter(response, time));
        }

        return status >= 500 ? Outcome.Failure : Outcome.Success;
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider time)
    {
        if (response.Headers.RetryAfter is not { } retryAfter)
        {
            return null;
        }

        TimeSpan? wait = retryAfter.Delta ?? (retryAfter.Date - time.GetUtcNow());
        return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
    }

    private static string? HashKeyOf(HttpRequestMessage request, string? header)
    {
        if (request.Options.TryGetValue(LoadwiseRequest.HashKey, out string? key))
        {
            return key;
        }

        return header is not null && request.Headers.NonValidated.TryGetValues(header, out var values) ? values.ToString() : null;
    }

    private static bool IsIdempotent(HttpRequestMessage request)
    {
        HttpMethod method = request.Method;
        bool idempotent = method == HttpMethod.Get || method == HttpMethod.Head || method == HttpMethod.Options || method == HttpMethod.Trace
            || method == HttpMethod.Put || method == HttpMethod.Delete;
        return idempotent && CanResend(request);
    }

    // No body can follow: HEAD, 204 and 304 answers end with their headers.
    private static bool IsBodiless(HttpRequestMessage request, HttpResponseMessage response) =>
        request.Method == HttpMethod.Head || response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.NotModified
        || response.Content.Headers.ContentLength == 0;

    // A body can go out again only when it is held in memory (string, bytes, form); a stream may be spent.
    private static bool CanResend(HttpRequestMessage request) => request.Content is null or ByteArrayContent;

    private static void Remember(ref string[]? tried, int attempt, int maxAttempts, string nodeId)
    {
        tried ??= new string[maxAttempts];
        tried[attempt - 1] = nodeId;
    }

    private static HttpRequestException NoEndpoint(LoadBalancer<HttpEndpoint> balancer, int attempt)
    {
        string detail = balancer.Nodes.Count == 0
            ? "it has no endpoints"
            : $"all {balancer.Nodes.Count} endpoints are unhealthy, resting after a 429, over quota{(attempt > 1 ? " or already tried" : string.Empty)}";
        return new HttpRequestException(
            HttpRequestError.ConnectionError,
            $"No endpoint available for '{balancer.Name}': {detail}.",
            new NoNodeAvailableException(balancer.Name, detail));
    }
}
