using Loadwise.AotProxy.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace Loadwise.AotProxy.Downstream;

/// <summary>What a request refused before it is forwarded gets: the status, and the one-line reason the client reads.</summary>
/// <param name="Status">400, 405 or 501.</param>
/// <param name="Reason">The reason, ending with a newline.</param>
internal readonly record struct RequestRefusal(int Status, string Reason);

/// <summary>
/// The request rules Kestrel's HTTP layer does not enforce and a proxy must (RFC 9110 and 9112; HAProxy refuses the
/// same with 400): header names that are not tokens, control bytes in values, a fragment in the target, a backslash
/// in the path or a path that climbs above its root with <c>..</c>. Also what
/// the proxy does not do: CONNECT tunnels (405, as nginx answers), and <c>OPTIONS *</c> towards a backend reached
/// through HttpClient, which cannot send an asterisk-form target (501).
/// </summary>
internal static class RequestRules
{
    /// <summary>The methods a 405 names as allowed (RFC 9110 section 15.5.6 requires the Allow header).</summary>
    public const string AllowedMethods = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE";

    /// <summary>Returns the refusal for a request the proxy must not forward, or null to forward it.</summary>
    public static RequestRefusal? Check(HttpContext context, bool asteriskFormSupported)
    {
        HttpRequest request = context.Request;
        if (HttpMethods.IsConnect(request.Method))
        {
            return new RequestRefusal(StatusCodes.Status405MethodNotAllowed, "405 CONNECT is not supported by this proxy\n");
        }

        string? raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (raw is not null && raw.Contains('#', StringComparison.Ordinal))
        {
            return new RequestRefusal(StatusCodes.Status400BadRequest, "400 the request target has a fragment (#)\n");
        }

        if (raw is not null && raw.StartsWith('/'))
        {
            string path = raw.IndexOf('?') is int query and >= 0 ? raw[..query] : raw;
            if (path.Contains('\\', StringComparison.Ordinal) || path.Contains("%5c", StringComparison.OrdinalIgnoreCase))
            {
                // Not a path character (RFC 3986); servers on Windows read it as '/', which would let dot segments past.
                return new RequestRefusal(StatusCodes.Status400BadRequest, "400 the request path has a backslash\n");
            }

            if (!DotSegments.TryRemove(path, out _))
            {
                return new RequestRefusal(StatusCodes.Status400BadRequest, "400 the request path climbs above its root (..)\n");
            }
        }

        if (raw == "*" && !asteriskFormSupported)
        {
            return new RequestRefusal(StatusCodes.Status501NotImplemented, "501 OPTIONS * cannot be forwarded to an https backend\n");
        }

        foreach (KeyValuePair<string, StringValues> header in request.Headers)
        {
            if (!HttpSyntax.IsToken(header.Key))
            {
                return new RequestRefusal(StatusCodes.Status400BadRequest, "400 a header name is not a token\n");
            }

            foreach (string? value in header.Value)
            {
                if (value is not null && HttpSyntax.HasControlBytes(value))
                {
                    return new RequestRefusal(StatusCodes.Status400BadRequest, "400 a header value has a control character\n");
                }
            }
        }

        return null;
    }
}
