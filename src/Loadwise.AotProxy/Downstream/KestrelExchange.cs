using System.Net;
using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Threading;
using Microsoft.Extensions.Primitives;

namespace Loadwise.AotProxy.Downstream;

/// <summary>A request that came through Kestrel's HTTP layer; Kestrel frames the response it is given.</summary>
/// <example><code>await forwarder.ForwardAsync(new KestrelExchange(httpContext, body));</code></example>
internal readonly struct KestrelExchange(HttpContext context, KestrelRequestBody? body = null) : IClientExchange
{
    public HttpContext Context => context;

    HttpContext? IClientExchange.Context => context;

    public string Method => context.Request.Method;

    public bool HasBody => body is not null;

    public long BodyLength => body?.Length ?? 0;

    public bool BodyStarted => body?.Started ?? false;

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
            // Content-Length is written below, from the body the proxy forwards.
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

        // The body's framing is the proxy's own: its length, chunked when Kestrel decoded a chunked one, and for a
        // method that usually has a body but came without one, a zero length (as HttpClient writes).
        string method = request.Method;
        if (body is not null)
        {
            if (body.Length >= 0)
            {
                writer.Append("Content-Length: "u8);
                writer.Append(body.Length);
                writer.Append("\r\n"u8);
            }
            else
            {
                writer.Append("Transfer-Encoding: chunked\r\n"u8);
            }
        }
        else if (!(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsDelete(method)
            || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method) || HttpMethods.IsConnect(method)))
        {
            writer.Append("Content-Length: 0\r\n"u8);
        }

        writer.Append("\r\n"u8);
    }

    public bool TryGetBufferedBody(out ReadOnlyMemory<byte> buffered)
    {
        buffered = default;
        return body is not null && body.TryGetBuffered(out buffered);
    }

    public ValueTask<int> ReadBodyAsync(Memory<byte> destination, CancellationToken cancellationToken) =>
        body is null ? new ValueTask<int>(0) : body.ReadAsync(destination, cancellationToken);

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
