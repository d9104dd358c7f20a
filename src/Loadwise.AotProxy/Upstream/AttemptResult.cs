namespace Loadwise.AotProxy.Upstream;

/// <summary>What became of one attempt on one backend.</summary>
internal enum AttemptOutcome
{
    /// <summary>A response was relayed to the client (<see cref="AttemptResult.Status"/>).</summary>
    Completed,

    /// <summary>It failed before the backend could have acted on it and before the client got anything: another backend may take it.</summary>
    Retryable,

    /// <summary>The client went away: a drop, not a backend failure.</summary>
    ClientGone,

    /// <summary>No response head within the response-headers timeout: 504, not retried (the backend may still be working on it).</summary>
    TimedOut,

    /// <summary>The backend failed: 502, or a cut client connection when its response had already started.</summary>
    Failed,

    /// <summary>The client's own request was bad (its body over the size limit, say): <see cref="AttemptResult.Status"/> is the answer.</summary>
    ClientError,
}

/// <summary>Where an attempt failed, as either upstream path tells it.</summary>
internal enum FailureStage
{
    /// <summary>No connection could be opened: nothing was sent.</summary>
    Connect,

    /// <summary>The request may have been sent, but not one response byte came back.</summary>
    NoResponse,

    /// <summary>What came back is not a response the proxy relays.</summary>
    InvalidResponse,

    /// <summary>The response head did not arrive within the timeout.</summary>
    Timeout,

    /// <summary>Reading the client's body failed for the client's own fault.</summary>
    ClientBody,

    /// <summary>Anything else (a bug, or a request the proxy cannot write): never retried.</summary>
    Unexpected,
}

/// <summary>The typed result of one attempt: its outcome, the status sent or to send, and what went wrong.</summary>
/// <param name="Outcome">What became of the attempt.</param>
/// <param name="Status">The status relayed (<see cref="AttemptOutcome.Completed"/>) or to answer (<see cref="AttemptOutcome.ClientError"/>).</param>
/// <param name="Error">What failed, for the log; null when nothing did.</param>
/// <example><code>
/// AttemptResult result = AttemptClassifier.Classify(FailureStage.Connect, "connection refused", idempotent: true, hasBody: false, bodyStarted: false);
/// // result.Outcome == AttemptOutcome.Retryable
/// </code></example>
internal readonly record struct AttemptResult(AttemptOutcome Outcome, int Status, string? Error)
{
    /// <summary>Gets the response body bytes relayed to the client (the access log's figure).</summary>
    public long Bytes { get; init; }

    /// <summary>Gets when the response head arrived (a <see cref="Threading.ProxyClock.Timestamp"/>), or 0 when none did: PeakEwma's latency.</summary>
    public long HeadersAt { get; init; }

    public static AttemptResult Completed(int status, long bytes, long headersAt = 0) => new(AttemptOutcome.Completed, status, null) { Bytes = bytes, HeadersAt = headersAt };

    public static AttemptResult ClientGone => new(AttemptOutcome.ClientGone, 0, null);

    public static AttemptResult Failed(string error) => new(AttemptOutcome.Failed, 0, error);
}

/// <summary>
/// The one rule both upstream paths (the proxy's own HTTP/1.1 connections and HttpClient) use to decide what a failure
/// means. A failed connect may be retried elsewhere unless the request body began to stream; no response at all may be
/// retried for an idempotent request with no body or one held whole (the backend may have acted on it, but doing it
/// twice is harmless, and a held body can be sent again; a streamed one cannot);
/// a timeout is a 504 and never retried (the backend may still be working, and the client's wait would double);
/// anything else is a 502.
/// </summary>
internal static class AttemptClassifier
{
    /// <summary>Classifies a failure at <paramref name="stage"/>; <paramref name="clientErrorStatus"/> goes with <see cref="FailureStage.ClientBody"/>.</summary>
    public static AttemptResult Classify(FailureStage stage, string error, bool idempotent, bool hasBody, bool bodyStarted, int clientErrorStatus = 0) => stage switch
    {
        FailureStage.Connect when !bodyStarted => new(AttemptOutcome.Retryable, 0, error),
        FailureStage.NoResponse when idempotent && !hasBody => new(AttemptOutcome.Retryable, 0, error),
        FailureStage.Timeout => new(AttemptOutcome.TimedOut, 0, error),
        FailureStage.ClientBody => new(AttemptOutcome.ClientError, clientErrorStatus, error),
        _ => AttemptResult.Failed(error),
    };

    /// <summary>Returns true for a method a retry may repeat (RFC 9110 section 9.2.2).</summary>
    public static bool IsIdempotent(string method) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method)
        || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method) || HttpMethods.IsTrace(method);
}
