using Microsoft.AspNetCore.Http.Features;

namespace Loadwise.AotProxy.Http;

/// <summary>What the upstream paths read of a request Kestrel parsed, beyond its headers.</summary>
internal static class KestrelRequest
{
    /// <summary>Returns true when the request may carry a body (Kestrel's own reading of its framing).</summary>
    /// <example><code>bool streamed = KestrelRequest.HasBody(context);</code></example>
    public static bool HasBody(HttpContext context) =>
        context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? context.Request.ContentLength > 0;

    /// <summary>
    /// Gets the request target as the client sent it (still percent-encoded), so the backend sees the same URL, less any
    /// dot segments (<see cref="DotSegments"/>); the asterisk form of <c>OPTIONS *</c> as it is (the origin form would be
    /// empty, which no server takes).
    /// </summary>
    /// <example><code>string target = KestrelRequest.Target(context); // "/a%20b?x=1"</code></example>
    public static string Target(HttpContext context)
    {
        string? raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (!string.IsNullOrEmpty(raw) && (raw[0] == '/' || raw == "*"))
        {
            // Dot segments are resolved here, not by whatever is behind (the request rules refused a target that climbs
            // above its root), so that a backend URL's base path always stays in front.
            return DotSegments.TryRemove(raw, out string target) ? target : raw;
        }

        HttpRequest request = context.Request;
        return string.Concat(request.PathBase.ToUriComponent(), request.Path.ToUriComponent(), request.QueryString.ToUriComponent());
    }
}
