using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

namespace Loadwise.Grpc;

/// <summary>
/// Reads what a gRPC response's headers say about the server: a trailers-only response (how a server answers a call
/// it fails before sending a message) carries <c>grpc-status</c>, <c>grpc-retry-pushback-ms</c> and
/// <c>grpc-status-details-bin</c> in the headers.
/// </summary>
internal static class GrpcResponseStatus
{
    internal const string StatusHeader = "grpc-status";
    internal const string PushbackHeader = "grpc-retry-pushback-ms";
    internal const string DetailsHeader = "grpc-status-details-bin";

    private const int Unavailable = 14;
    private const int ResourceExhausted = 8;

    /// <summary>
    /// Returns the outcome to report: Failure for UNAVAILABLE (or a non-200 HTTP status, as a proxy in front of the
    /// server answers), RateLimited for RESOURCE_EXHAUSTED with retry information, Success otherwise; null (report
    /// nothing) for RESOURCE_EXHAUSTED without retry information, which may be a per-call limit rather than the server's.
    /// </summary>
    public static Outcome? Read(HttpResponseMessage response)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return Outcome.Failure;
        }

        HttpHeadersNonValidated headers = response.Headers.NonValidated;
        if (!TryGetFirst(headers, StatusHeader, out string? statusText)
            || !int.TryParse(statusText, NumberStyles.None, CultureInfo.InvariantCulture, out int status))
        {
            // The status arrives in the trailers after the messages: the server answered.
            return Outcome.Success;
        }

        return status switch
        {
            Unavailable => Outcome.Failure,
            ResourceExhausted => RetryDelay(headers) is { } delay ? Outcome.RateLimited(delay) : null,
            _ => Outcome.Success,
        };
    }

    /// <summary>The server's retry delay: <c>grpc-retry-pushback-ms</c> first, then a <c>google.rpc.RetryInfo</c> in the status details.</summary>
    internal static TimeSpan? RetryDelay(HttpHeadersNonValidated headers)
    {
        if (TryGetFirst(headers, PushbackHeader, out string? pushback))
        {
            // A negative or malformed pushback means "do not retry": no delay to rest for.
            return int.TryParse(pushback, NumberStyles.None, CultureInfo.InvariantCulture, out int ms) ? TimeSpan.FromMilliseconds(ms) : null;
        }

        return TryGetFirst(headers, DetailsHeader, out string? details) && StatusDetails.TryDecodeBase64(details, out byte[]? bytes)
            ? StatusDetails.FindRetryDelay(bytes)
            : null;
    }

    private static bool TryGetFirst(HttpHeadersNonValidated headers, string name, out string? value)
    {
        if (headers.TryGetValues(name, out HeaderStringValues values))
        {
            foreach (string first in values)
            {
                value = first;
                return true;
            }
        }

        value = null;
        return false;
    }
}
