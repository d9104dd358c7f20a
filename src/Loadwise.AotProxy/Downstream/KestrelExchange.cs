using System.Net;
using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Threading;
using Microsoft.Extensions.Primitives;

namespace Loadwise.AotProxy.Downstream;

/// <summary>A request that came through Kestrel's HTTP layer; Kestrel frames the response it is given.</summary>
/// <example><code>await forwarder.ForwardAsync(new KestrelExchange(httpContext));</code></example>
internal readonly struct KestrelExchange(HttpContext context) : IClientExchange
{
    public HttpContext Context => context;

    HttpContext? IClientExchange.Context => context;

    public string Method => context.Request.Method;

    public bool HasBody => KestrelRequest.HasBody(context);

    public CancellationToken ClientAborted => context.RequestAborted;

    public bool ClientGone => context.RequestAborted.IsCancellationRequested;

    public IPAddress? Peer => context.Connection.RemoteIpAddress;

    public ReadOnlySpan<char> Path => context.Request.Path.Value;

    public ReadOnlySpan<char> Query => context.Request.QueryString.Value;

    public Stream ResponseBody => context.Response.Body;

    public ReadOnlySpan<char> Header(string name) => context.Request.Headers.TryGetValue(name, out StringValues values) ? values.ToString() : default;

    public AttemptCancellation BeginAttempt(TimeSpan timeout, long now, ProxyClock clock)
    {
        // The timeout on the proxy's clock (a CancellationTokenSource made with its time provider), then linked to the
        // client's token: a linked source alone would time on the system's clock.
        var timer = new CancellationTokenSource(timeout, clock.Time);
        var source = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, timer.Token);
        return new AttemptCancellation(source.Token, source, timer);
    }

    public void EndAttempt(AttemptCancellation attempt)
    {
        attempt.Source?.Dispose();
        attempt.Timer?.Dispose();
    }

    public void WriteRequestHead(ref HttpOutputBuffer writer, in UpstreamTarget target)
    {
        HttpRequest request = context.Request;
        writer.Append(request.Method);
        writer.Append(" "u8);
        string requestTarget = KestrelRequest.Target(context);
        if (requestTarget != "*")
        {
            writer.Append(target.BasePath);
        }

        writer.Append(requestTarget);
        writer.Append(" HTTP/1.1\r\n"u8);
        writer.AppendHeader("Host", target.PreserveHost && request.Host.HasValue ? request.Host.Value : target.Authority);

        IHeaderDictionary headers = request.Headers;
        string? connection = headers.Connection.Count == 0 ? null : headers.Connection.ToString();
        bool xForwarded = target.XForwarded;
        HeaderNameSet? untrusted = target.Forwarded.IsTrusted(context.Connection.RemoteIpAddress) ? null : target.Forwarded.Untrusted;
        foreach (KeyValuePair<string, StringValues> header in headers)
        {
            // Content-Length (here only ever 0) is written below, by method, as HttpClient does.
            if (HeaderRules.SkipRequestHeader(header.Key, connection, xForwarded, untrusted)
                || string.Equals(header.Key, "Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            StringValues values = header.Value;
            writer.AppendHeader(header.Key, values.Count == 1
                ? values.ToString()
                : string.Join(string.Equals(header.Key, "Cookie", StringComparison.OrdinalIgnoreCase) ? "; " : ", ", values.ToArray()));
        }

        if (xForwarded)
        {
            target.Forwarded.ValuesFor(context, out string forwardedFor, out string proto, out string? host);
            writer.AppendHeader(ForwardedHeaders.ForwardedFor, forwardedFor);
            writer.AppendHeader(ForwardedHeaders.ForwardedProto, proto);
            if (host is not null)
            {
                writer.AppendHeader(ForwardedHeaders.ForwardedHost, host);
            }
        }

        string method = request.Method;
        if (!(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsDelete(method)
            || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method) || HttpMethods.IsConnect(method)))
        {
            writer.Append("Content-Length: 0\r\n"u8);
        }

        writer.Append("\r\n"u8);
    }

    public void BeginResponse(ResponseHead head, ReadOnlySpan<byte> headBytes)
    {
        HttpResponse downstream = context.Response;
        downstream.StatusCode = head.Status;
        IHeaderDictionary target = downstream.Headers;
        foreach (KeyValuePair<string, string> header in head.GetHeaders(headBytes))
        {
            // Content-Length is set below from the parsed length, whatever a Connection header named.
            if (HeaderRules.IsHopByHop(header.Key, head.ConnectionNames) || string.Equals(header.Key, "Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            StringValues existing = target[header.Key];
            target[header.Key] = existing.Count == 0 ? new StringValues(header.Value) : StringValues.Concat(existing, header.Value);
        }

        // Kestrel frames the body: by this length, else chunked; with other codings it sends them and ends the body by
        // closing the connection (RFC 9112 section 6.3), as it must not apply chunked itself then.
        if (head.RelaysContentLength)
        {
            downstream.ContentLength = head.ContentLength;
        }
        else if (head.OtherCodings is { } codings && head.Framing != BodyFraming.None)
        {
            target.TransferEncoding = codings;
        }
    }

    public void EndResponse()
    {
    }

    public async ValueTask WriteErrorAsync(int status, string text, int retryAfterSeconds = -1)
    {
        HttpResponse response = context.Response;
        if (response.HasStarted)
        {
            context.Abort();
            return;
        }

        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        if (retryAfterSeconds >= 0)
        {
            response.Headers.RetryAfter = retryAfterSeconds switch
            {
                1 => "1",
                2 => "2",
                _ => retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
        }

        try
        {
            await response.WriteAsync(text, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The client left while we were telling it; nothing more to do.
        }
    }

    public bool TryDiscardResponse()
    {
        HttpResponse response = context.Response;
        if (response.HasStarted)
        {
            return false;
        }

        response.Clear();
        return true;
    }

    public void Abort() => context.Abort();
}
