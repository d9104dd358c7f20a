using System.Net;
using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.Http;

/// <summary>What the router reads of a request to pick a backend (the hash key) and to rate-limit its client.</summary>
internal interface IClientRequest
{
    /// <summary>Gets the connection's peer address.</summary>
    IPAddress? Peer { get; }

    /// <summary>Gets the decoded path (no query).</summary>
    ReadOnlySpan<char> Path { get; }

    /// <summary>Gets the raw query string with its leading <c>?</c>, or empty.</summary>
    ReadOnlySpan<char> Query { get; }

    /// <summary>Gets a header's value (values of a repeated header joined with a comma), or empty.</summary>
    ReadOnlySpan<char> Header(string name);
}

/// <summary>Where a request goes upstream, and the rules its head is written by.</summary>
/// <param name="Authority">The backend's <c>host:port</c>, for the Host header when it is not preserved.</param>
/// <param name="BasePath">The backend URL's path without its trailing slash; the request target is appended to it.</param>
/// <param name="PreserveHost">Whether the client's Host goes upstream instead of <paramref name="Authority"/>.</param>
/// <param name="XForwarded">Whether X-Forwarded-For, -Proto and -Host are set.</param>
/// <param name="Forwarded">The trust rules for forwarding headers.</param>
internal readonly record struct UpstreamTarget(string Authority, string BasePath, bool PreserveHost, bool XForwarded, ForwardedHeaders Forwarded);

/// <summary>
/// One client request and its response, as the router and the upstream attempts drive them, whichever front end read
/// it: the proxy's own HTTP/1.1 codec or Kestrel's HTTP layer. Implemented by structs, so that the generic code that
/// takes them is compiled per front end with direct calls.
/// </summary>
/// <example><code>
/// exchange.WriteRequestHead(ref head, in target);            // upstream request head
/// exchange.BeginResponse(responseHead, headBytes);           // status and end-to-end headers
/// await exchange.ResponseBody.WriteAsync(body, token);       // the body, framed by the exchange
/// exchange.EndResponse();
/// </code></example>
internal interface IClientExchange : IClientRequest
{
    /// <summary>Gets the request method.</summary>
    string Method { get; }

    /// <summary>Gets whether the request carries a body.</summary>
    bool HasBody { get; }

    /// <summary>Gets the body's length: its Content-Length, -1 for a body of unknown length (chunked), 0 for none.</summary>
    long BodyLength { get; }

    /// <summary>Gets whether any byte of a body the exchange does not hold whole was read (the request can no longer be sent again).</summary>
    bool BodyStarted { get; }

    /// <summary>Gets the Kestrel request behind the exchange, or null on the proxy's own codec.</summary>
    HttpContext? Context { get; }

    /// <summary>Gets a token that fires when the client's connection breaks.</summary>
    CancellationToken ClientAborted { get; }

    /// <summary>Gets whether the client went away (a write to it failed, or its connection broke).</summary>
    bool ClientGone { get; }

    /// <summary>
    /// Starts one attempt on a backend at <paramref name="now"/> (<paramref name="clock"/>'s milliseconds): its token
    /// fires when the client goes away, or once the attempt has run for <paramref name="timeout"/> on that clock. Pass
    /// the result to <see cref="EndAttempt"/> once the attempt is over.
    /// </summary>
    AttemptCancellation BeginAttempt(TimeSpan timeout, long now, ProxyClock clock);

    /// <summary>Ends an attempt <see cref="BeginAttempt"/> started; the exchange may reuse what it needed for the next one.</summary>
    void EndAttempt(AttemptCancellation attempt);

    /// <summary>
    /// Writes the upstream request head (request line, Host, end-to-end headers, X-Forwarded-*, the body's framing:
    /// Content-Length, or chunked for a body of unknown length, and the blank line).
    /// </summary>
    void WriteRequestHead(ref HttpOutputBuffer writer, in UpstreamTarget target);

    /// <summary>
    /// Gets the whole body when the exchange holds it (a small one, read before the first attempt), so that a retry can
    /// send it again; false for a body that is streamed (<see cref="ReadBodyAsync"/>) or none.
    /// </summary>
    bool TryGetBufferedBody(out ReadOnlyMemory<byte> body);

    /// <summary>
    /// Reads the next bytes of a body the exchange does not hold whole, as they arrive (0 at its end); the caller sends
    /// them before it reads more, so a slow backend slows the client down. Fails with <see cref="ClientBodyException"/>
    /// when the client's body fails.
    /// </summary>
    ValueTask<int> ReadBodyAsync(Memory<byte> destination, CancellationToken cancellationToken);

    /// <summary>
    /// Starts the response from a backend's head (<paramref name="headBytes"/> are the bytes it was parsed from): the
    /// status and end-to-end headers, framed by the exchange itself (by the length, or chunked).
    /// </summary>
    void BeginResponse(ResponseHead head, ReadOnlySpan<byte> headBytes);

    /// <summary>Gets the stream the body of the response <see cref="BeginResponse"/> started is written to.</summary>
    Stream ResponseBody { get; }

    /// <summary>Ends the response body (its last chunk, where the exchange chunks it).</summary>
    void EndResponse();

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

/// <summary>One attempt's cancellation, from <see cref="IClientExchange.BeginAttempt"/>.</summary>
/// <param name="Token">Fires when the client goes away or the attempt ran out of time.</param>
/// <param name="Source">The source the exchange made for this attempt alone, if it did (disposed when the attempt ends).</param>
/// <param name="Timer">The source that times it, when it is not <paramref name="Source"/> (disposed with it).</param>
internal readonly record struct AttemptCancellation(CancellationToken Token, CancellationTokenSource? Source, CancellationTokenSource? Timer = null);
