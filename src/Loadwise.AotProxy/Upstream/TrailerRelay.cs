using System.Net.Http.Headers;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Http;

namespace Loadwise.AotProxy.Upstream;

/// <summary>
/// Trailers both ways for HTTP/2 backends, which gRPC depends on: its status (<c>grpc-status</c>,
/// <c>grpc-message</c>) travels in the response trailers, and servers may insist on <c>TE: trailers</c>.
/// </summary>
/// <example><code>
/// TrailerRelay.AddTeTrailers(context.Request, upstream, backend);
/// TrailerRelay.Copy(response, context.Response);
/// </code></example>
internal static class TrailerRelay
{
    private static readonly TransferCodingWithQualityHeaderValue Trailers = new("trailers");

    /// <summary>
    /// Sends <c>TE: trailers</c> to an HTTP/2 backend when the client sent it. TE is hop-by-hop (RFC 9110 section 10.1.4),
    /// but "trailers" is the one value HTTP/2 allows (RFC 9113 section 8.2.2) and says only that the client reads
    /// trailers, which the proxy does (YARP and Envoy forward it alike).
    /// </summary>
    public static void AddTeTrailers(HttpRequest request, HttpRequestMessage upstream, Backend backend)
    {
        if (backend.Http2 && request.Headers.TE.ToString().Contains("trailers", StringComparison.OrdinalIgnoreCase))
        {
            upstream.Headers.TE.Add(Trailers);
        }
    }

    /// <summary>
    /// Copies the backend's trailers to the client's response when it can carry them (HTTP/2, or chunked HTTP/1.1).
    /// Hop-by-hop and framing names are not copied (RFC 9110 section 6.5.1 leaves them out of trailers).
    /// </summary>
    public static void Copy(HttpResponseMessage response, HttpResponse downstream)
    {
        HttpResponseHeaders trailers = response.TrailingHeaders;
        if (!trailers.NonValidated.GetEnumerator().MoveNext() || !downstream.SupportsTrailers())
        {
            return;
        }

        foreach (KeyValuePair<string, HeaderStringValues> trailer in trailers.NonValidated)
        {
            if (HeaderRules.IsHopByHop(trailer.Key, null)
                || trailer.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
                || trailer.Key.Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            foreach (string value in trailer.Value)
            {
                downstream.AppendTrailer(trailer.Key, value);
            }
        }
    }
}
