using System.Net;
using Loadwise.AotProxy.RateLimiting;
using Loadwise.AotProxy.Routing;
using Loadwise.AotProxy.Threading;
using Microsoft.Extensions.Primitives;

namespace Loadwise.AotProxy.Forwarding;

/// <summary>
/// One client request as the forwarder drives it, whichever front end read it: Kestrel's HTTP layer
/// (<see cref="KestrelExchange"/>) or the fast path's raw HTTP/1.1 head (<see cref="FastPathExchange"/>).
/// The retry loop, selection, health reports and metrics in <see cref="ProxyForwarder"/> are written once against it.
/// </summary>
internal interface IForwardingExchange : IHashKeyRequest
{
    /// <summary>Gets the request method.</summary>
    string Method { get; }

    /// <summary>Gets whether the request may carry a body (then it goes through HttpClient, which streams it).</summary>
    bool HasBody { get; }

    /// <summary>Gets the Kestrel request behind the exchange, or null on the fast path (which only takes bodiless requests).</summary>
    HttpContext? Context { get; }

    /// <summary>Gets a token that fires when the client goes away.</summary>
    CancellationToken ClientAborted { get; }

    /// <summary>Gets whether the client went away (a write to it failed, or its connection closed).</summary>
    bool ClientGone { get; }

    /// <summary>
    /// Starts one attempt on a backend at <paramref name="now"/> (<see cref="ProxyClock"/> milliseconds): its token
    /// fires when the client goes away, or once the attempt has run for <paramref name="timeout"/>. Pass the result to
    /// <see cref="EndAttempt"/> once the attempt is over.
    /// </summary>
    AttemptCancellation BeginAttempt(TimeSpan timeout, long now);

    /// <summary>Ends an attempt <see cref="BeginAttempt"/> started; the exchange may reuse what it needed for the next one.</summary>
    void EndAttempt(AttemptCancellation attempt);

    /// <summary>Takes one token from the client's bucket; false, with the wait in whole seconds, when it has none.</summary>
    bool TryAcquireToken(ClientRateLimiter limiter, out int retryAfterSeconds);

    /// <summary>Writes the upstream request head (request line, Host, end-to-end headers, X-Forwarded-*, blank line).</summary>
    void WriteRequestHead(ref HttpOutputBuffer writer, Backend backend, string basePath, ForwarderSettings settings);

    /// <summary>Sends the backend's response head and body (framed by <paramref name="head"/>) to the client.</summary>
    ValueTask RelayResponseAsync(Http1Connection connection, Http1ResponseHead head, CancellationToken cancellationToken);

    /// <summary>Answers the client with a short plain-text error; <paramref name="retryAfterSeconds"/> below 0 sends no Retry-After.</summary>
    ValueTask WriteErrorAsync(int status, string text, int retryAfterSeconds = -1);

    /// <summary>
    /// Drops what was written of the response so far, if none of it has reached the client yet, so that an error can
    /// take its place; false once any byte is out.
    /// </summary>
    bool TryDiscardResponse();

    /// <summary>Cuts the client connection: the only honest signal once a response has started and then failed.</summary>
    void Abort();
}

/// <summary>One attempt's cancellation, from <see cref="IForwardingExchange.BeginAttempt"/>.</summary>
/// <param name="Token">Fires when the client goes away or the attempt ran out of time.</param>
/// <param name="Source">The source the exchange made for this attempt alone, if it did (disposed when the attempt ends).</param>
internal readonly record struct AttemptCancellation(CancellationToken Token, CancellationTokenSource? Source);

/// <summary>A request that came through Kestrel's HTTP layer.</summary>
internal readonly struct KestrelExchange(HttpContext context) : IForwardingExchange
{
    public HttpContext Context => context;

    HttpContext? IForwardingExchange.Context => context;

    public string Method => context.Request.Method;

    public bool HasBody => ProxyForwarder.HasBody(context);

    public CancellationToken ClientAborted => context.RequestAborted;

    public bool ClientGone => context.RequestAborted.IsCancellationRequested;

    public IPAddress? Peer => context.Connection.RemoteIpAddress;

    public ReadOnlySpan<char> Path => context.Request.Path.Value;

    public ReadOnlySpan<char> Query => context.Request.QueryString.Value;

    public ReadOnlySpan<char> Header(string name) => context.Request.Headers.TryGetValue(name, out StringValues values) ? values.ToString() : default;

    public AttemptCancellation BeginAttempt(TimeSpan timeout, long now)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        source.CancelAfter(timeout);
        return new AttemptCancellation(source.Token, source);
    }

    public void EndAttempt(AttemptCancellation attempt) => attempt.Source?.Dispose();

    public bool TryAcquireToken(ClientRateLimiter limiter, out int retryAfterSeconds) => limiter.TryAcquire(context, out retryAfterSeconds);

    public void WriteRequestHead(ref HttpOutputBuffer writer, Backend backend, string basePath, ForwarderSettings settings)
    {
        HttpRequest request = context.Request;
        writer.Append(request.Method);
        writer.Append(" "u8);
        string target = ProxyForwarder.RequestTarget(context);
        if (target != "*")
        {
            writer.Append(basePath);
        }

        writer.Append(target);
        writer.Append(" HTTP/1.1\r\n"u8);
        writer.AppendHeader("Host", settings.PreserveHost && request.Host.HasValue ? request.Host.Value : backend.Authority);

        IHeaderDictionary headers = request.Headers;
        string? connection = headers.Connection.Count == 0 ? null : headers.Connection.ToString();
        bool xForwarded = settings.XForwarded;
        HeaderNameSet? untrusted = settings.Forwarded.IsTrusted(context.Connection.RemoteIpAddress) ? null : settings.Forwarded.Untrusted;
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
            ProxyForwarder.ForwardedValues(context, settings.Forwarded, out string forwardedFor, out string proto, out string? host);
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

    public async ValueTask RelayResponseAsync(Http1Connection connection, Http1ResponseHead head, CancellationToken cancellationToken)
    {
        HttpResponse downstream = context.Response;
        downstream.StatusCode = head.Status;
        IHeaderDictionary target = downstream.Headers;
        foreach (KeyValuePair<string, string> header in head.GetHeaders(connection.Buffer.AsSpan(head.Offset)))
        {
            if (HeaderRules.IsHopByHop(header.Key, head.ConnectionNames))
            {
                continue;
            }

            if (string.Equals(header.Key, "Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                // Set below from the parsed length, whatever a Connection header named.
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

        await Http1Response.CopyBodyAsync(connection, head, downstream.Body, cancellationToken).ConfigureAwait(false);
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
