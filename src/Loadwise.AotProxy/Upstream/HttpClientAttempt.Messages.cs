using System.Net;
using System.Net.Http.Headers;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Http;
using Microsoft.Extensions.Primitives;

namespace Loadwise.AotProxy.Upstream;

/// <summary>The request HttpClient sends, and the response headers it brings back, translated to and from Kestrel's.</summary>
internal sealed partial class HttpClientAttempt
{
    /// <summary>The target goes out as the proxy wrote it: the URI class neither unescapes nor resolves anything in it.</summary>
    private static readonly UriCreationOptions ExactUri = new() { DangerousDisablePathAndQueryCanonicalization = true };

    internal static HttpRequestMessage CreateUpstreamRequest(HttpContext context, Backend backend, UpstreamTarget target, ReadOnlyMemory<byte>? bufferedBody, Action bodySent)
    {
        HttpRequest request = context.Request;
        var upstream = new HttpRequestMessage(HttpMethod.Parse(request.Method), new Uri(backend.UrlPrefix + KestrelRequest.Target(context), ExactUri))
        {
            // An http2 backend gets HTTP/2 only: prior knowledge (h2c) on http://, ALPN h2 on https://.
            Version = backend.Http2 ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = backend.Http2 ? HttpVersionPolicy.RequestVersionExact : HttpVersionPolicy.RequestVersionOrLower,
        };

        if (bufferedBody is { } body)
        {
            upstream.Content = new ReadOnlyMemoryContent(body);
        }
        else if (KestrelRequest.HasBody(context))
        {
            upstream.Content = new StreamingRequestContent(request.Body) { Sent = bodySent };
        }

        IHeaderDictionary headers = request.Headers;
        string? connection = headers.Connection.Count == 0 ? null : headers.Connection.ToString();
        bool xForwarded = target.XForwarded;
        HeaderNameSet? untrusted = target.Forwarded.IsTrusted(context.Connection.RemoteIpAddress) ? null : target.Forwarded.Untrusted;
        foreach (KeyValuePair<string, StringValues> header in headers)
        {
            // A held body's content states its own length.
            if (HeaderRules.SkipRequestHeader(header.Key, connection, xForwarded, untrusted)
                || (bufferedBody is not null && string.Equals(header.Key, "Content-Length", StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            AddRequestHeader(upstream, header.Key, header.Value);
        }

        TrailerRelay.AddTeTrailers(request, upstream, backend);
        if (target.PreserveHost && request.Host.HasValue)
        {
            upstream.Headers.Host = request.Host.Value;
        }

        if (xForwarded)
        {
            AddForwardedHeaders(context, upstream.Headers, target.Forwarded);
        }

        return upstream;
    }

    private static void AddRequestHeader(HttpRequestMessage upstream, string name, StringValues values)
    {
        if (values.Count == 1)
        {
            string value = values.ToString();
            if (!upstream.Headers.TryAddWithoutValidation(name, value))
            {
                upstream.Content?.Headers.TryAddWithoutValidation(name, value);
            }

            return;
        }

        string?[] all = values.ToArray();
        if (!upstream.Headers.TryAddWithoutValidation(name, all!))
        {
            upstream.Content?.Headers.TryAddWithoutValidation(name, all!);
        }
    }

    private static void AddForwardedHeaders(HttpContext context, HttpRequestHeaders target, ForwardedHeaders rules)
    {
        rules.ValuesFor(context, out string forwardedFor, out string proto, out string? host);
        target.TryAddWithoutValidation(ForwardedHeaders.ForwardedFor, forwardedFor);
        target.TryAddWithoutValidation(ForwardedHeaders.ForwardedProto, proto);
        if (host is not null)
        {
            target.TryAddWithoutValidation(ForwardedHeaders.ForwardedHost, host);
        }
    }

    /// <summary>
    /// What HttpClient accepted but the proxy's own parser (<see cref="ResponseHead.TryParse"/>) refuses: a
    /// Content-Length that is not <c>1*DIGIT</c> (RFC 9110 section 8.6), or <c>chunked</c> anywhere but last and once.
    /// </summary>
    private static string? FramingProblem(HttpResponseMessage response)
    {
        if (response.Content.Headers.NonValidated.TryGetValues("Content-Length", out HeaderStringValues lengths))
        {
            string? first = null;
            foreach (string length in lengths)
            {
                if (!HttpSyntax.TryParseDecimal(System.Text.Encoding.Latin1.GetBytes(length.Trim(' ', '\t')), out _) || (first is not null && first != length))
                {
                    return "invalid or conflicting Content-Length";
                }

                first = length;
            }
        }

        if (response.Headers.NonValidated.TryGetValues("Transfer-Encoding", out HeaderStringValues codings) && response.Version == HttpVersion.Version10)
        {
            // RFC 9112 section 6.1: its framing is faulty, and HttpClient would keep the connection; refused instead.
            return "Transfer-Encoding on an HTTP/1.0 response";
        }

        if (response.Headers.NonValidated.TryGetValues("Transfer-Encoding", out codings)
            && !ResponseHead.TryParseCodings(string.Join(", ", codings), out _, out _))
        {
            return "invalid Transfer-Encoding: chunked must be the final coding, once";
        }

        return null;
    }

    /// <summary>
    /// Copies the end-to-end headers. Kestrel frames the body itself: the length goes on only where a body follows
    /// (never on 204 or 304, where Kestrel refuses it), and never because a Connection header named it.
    /// </summary>
    internal static void CopyResponseHeaders(HttpResponseMessage response, IHeaderDictionary target, bool bodiless)
    {
        string? connection = response.Headers.NonValidated.TryGetValues("Connection", out HeaderStringValues values) ? values.ToString() : null;
        foreach (KeyValuePair<string, HeaderStringValues> header in response.Headers.NonValidated)
        {
            if (!HeaderRules.IsHopByHop(header.Key, connection))
            {
                target[header.Key] = ToStringValues(header.Value);
            }
        }

        foreach (KeyValuePair<string, HeaderStringValues> header in response.Content.Headers.NonValidated)
        {
            if (string.Equals(header.Key, "Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!HeaderRules.IsHopByHop(header.Key, connection))
            {
                target[header.Key] = ToStringValues(header.Value);
            }
        }

        if (!bodiless && response.Content.Headers.ContentLength is long length)
        {
            target.ContentLength = length;
        }
        else if (!bodiless && response.Headers.NonValidated.TryGetValues("Transfer-Encoding", out HeaderStringValues codings)
            && ResponseHead.TryParseCodings(codings.ToString(), out _, out string? others) && others is not null)
        {
            // gzip and the like stay on the body; Kestrel then ends it by closing the connection.
            target.TransferEncoding = others;
        }
    }

    private static StringValues ToStringValues(HeaderStringValues values)
    {
        if (values.Count == 1)
        {
            return values.ToString();
        }

        var all = new string[values.Count];
        int i = 0;
        foreach (string value in values)
        {
            all[i++] = value;
        }

        return all;
    }
}
