using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Metrics;
using Loadwise.AotProxy.Router;

namespace Loadwise.AotProxy.Downstream;

/// <summary>
/// Requests Kestrel's HTTP layer parsed, on their way to the router: the request rules first, then the router with a
/// <see cref="KestrelExchange"/>.
/// </summary>
/// <example><code>app.Run(context => entry.ForwardAsync(context));</code></example>
internal sealed class KestrelEntry(ActiveForwarder forwarders, ProxyMetrics metrics, long maxBufferedBodyBytes)
{
    /// <summary>Forwards a request, unless the request rules refuse it (then it is answered and its connection closed).</summary>
    public Task ForwardAsync(HttpContext context)
    {
        if (HasAmbiguousFraming(context.Request))
        {
            // Kestrel accepts Content-Length with Transfer-Encoding (chunked wins, RFC 9112 section 6.3) and renames the
            // length to X-Content-Length; a server behind may frame it the other way, the classic smuggling gap.
            return RefuseAsync(context, new RequestRefusal(StatusCodes.Status400BadRequest, "400 request has both Content-Length and Transfer-Encoding\n"), ProxyMetrics.BadFraming);
        }

        // The configuration in force for this request, from its head to its response.
        Forwarder forwarder = forwarders.Current;
        if (RequestRules.Check(context, asteriskFormSupported: forwarder.AllBackendsDirect) is { } refusal)
        {
            return RefuseAsync(context, refusal, ProxyMetrics.BadRequest);
        }

        return KestrelRequest.HasBody(context) ? ForwardWithBodyAsync(context) : ForwardAsync(context, body: null);
    }

    /// <summary>Forwards on the configuration in force, held for the request (a reload cannot retire it meanwhile).</summary>
    private async Task ForwardAsync(HttpContext context, KestrelRequestBody? body)
    {
        Forwarder forwarder = forwarders.Acquire();
        try
        {
            await forwarder.ForwardAsync(new KestrelExchange(context, body)).ConfigureAwait(false);
        }
        finally
        {
            forwarder.Release();
        }
    }

    /// <summary>Forwards a request with a body: a small one is read whole first (so that a retry can send it again).</summary>
    private async Task ForwardWithBodyAsync(HttpContext context)
    {
        KestrelRequestBody? body;
        try
        {
            body = await KestrelRequestBody.ReadAsync(context, maxBufferedBodyBytes).ConfigureAwait(false);
        }
        catch (ClientBodyException e)
        {
            if (e.Status == 0)
            {
                metrics.Dropped(ProxyMetrics.ClientAbort);
                return;
            }

            await RefuseAsync(context, new RequestRefusal(e.Status, $"{e.Status} bad request body\n"), ProxyMetrics.BadRequest).ConfigureAwait(false);
            return;
        }

        using (body)
        {
            await ForwardAsync(context, body).ConfigureAwait(false);
        }
    }

    private static bool HasAmbiguousFraming(HttpRequest request)
    {
        IHeaderDictionary headers = request.Headers;
        return headers.TransferEncoding.Count != 0
            && (headers.ContentLength is not null || headers.ContainsKey("Content-Length") || headers.ContainsKey("X-Content-Length"));
    }

    /// <summary>Answers a request the proxy will not forward, closes the connection, and writes its access-log line.</summary>
    private async Task RefuseAsync(HttpContext context, RequestRefusal refusal, KeyValuePair<string, object?> reason)
    {
        Forwarder forwarder = forwarders.Current;
        long started = forwarder.Timestamp;
        metrics.Dropped(reason);
        context.Response.Headers.Connection = "close";
        if (refusal.Status == StatusCodes.Status405MethodNotAllowed)
        {
            context.Response.Headers.Allow = RequestRules.AllowedMethods;
        }

        var exchange = new KestrelExchange(context);
        await exchange.WriteErrorAsync(refusal.Status, refusal.Reason).ConfigureAwait(false);
        forwarder.RecordRefusal(exchange, refusal.Status, refusal.Reason.Length, started);
    }
}
