using System.Net;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Health;
using Loadwise.AotProxy.Http;

namespace Loadwise.AotProxy.Upstream;

/// <summary>
/// One attempt through HttpClient (SocketsHttpHandler): for https backends, and for every request when
/// Performance:DirectHttp1 is off. Kestrel parsed the request; the response is written to Kestrel's response, which
/// frames it. Same outcomes and retry rules as <see cref="DirectAttempt"/> (<see cref="AttemptClassifier"/>), and the
/// same framing rules for what the backend sends (<see cref="FramingProblem"/>).
/// </summary>
/// <example><code>
/// using var attempts = new HttpClientAttempt(settings, health);
/// AttemptResult result = await attempts.ForwardAsync(context, backend, target);
/// </code></example>
internal sealed partial class HttpClientAttempt(UpstreamSettings settings, BackendHealth health) : IDisposable
{
    private readonly HttpMessageInvoker _invoker = new(CreateHandler(settings), disposeHandler: true);

    /// <summary>Creates the one handler every such attempt goes through: pooled, and doing nothing a proxy must not.</summary>
    internal static SocketsHttpHandler CreateHandler(UpstreamSettings settings) => new()
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ActivityHeadersPropagator = null,
        ConnectTimeout = settings.ConnectTimeout,
        PooledConnectionIdleTimeout = settings.IdleTimeout,
        // A response disposed unread (a refused one) closes its connection instead of being drained for reuse.
        MaxResponseDrainSize = 0,
        // Header values go out byte for byte as Kestrel read them (Latin-1), not refused for bytes above 0x7F.
        RequestHeaderEncodingSelector = static (_, _) => System.Text.Encoding.Latin1,
        EnableMultipleHttp2Connections = true,
        SslOptions = settings.Trust.ClientOptions(),
    };

    /// <summary>
    /// Forwards the exchange's request (one Kestrel parsed) to <paramref name="backend"/> and relays the response into
    /// its Kestrel response: a body the exchange holds whole goes as it is (a retry can send it again), any other streams.
    /// </summary>
    public async ValueTask<AttemptResult> ForwardAsync<TExchange>(TExchange exchange, Backend backend, UpstreamTarget target)
        where TExchange : IClientExchange
    {
        HttpContext context = exchange.Context ?? throw new InvalidOperationException("HttpClient forwards only requests Kestrel parsed; the codec runs only when every backend is reached directly");
        CancellationToken clientAborted = context.RequestAborted;
        // The response-headers timeout, on the proxy's clock, starts once the request is out: after its body, if it has
        // one, so that a slow upload is timed by Kestrel's minimum data rate and never counted against the backend.
        using var timeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, settings.Clock.Time);
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(clientAborted, timeout.Token);
        var headersTimer = new HeadersTimer(timeout, settings.ResponseHeadersTimeout);
        // (A cast, not a bare null: null converts to an empty ReadOnlyMemory through byte[].)
        ReadOnlyMemory<byte>? held = exchange.TryGetBufferedBody(out ReadOnlyMemory<byte> buffered) ? buffered : (ReadOnlyMemory<byte>?)null;
        using HttpRequestMessage upstream = CreateUpstreamRequest(context, backend, target, held, headersTimer.Arm);
        if (upstream.Content is not StreamingRequestContent)
        {
            headersTimer.Arm();
        }

        HttpResponseMessage response;
        try
        {
            response = await _invoker.SendAsync(upstream, cancellation.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            bool timedOut = cancellation.IsCancellationRequested;
            if (upstream.Content is StreamingRequestContent content)
            {
                // The copy of the client's body may still be reading it: stop it and wait, so that nothing reads that
                // body while Kestrel drains it.
                await cancellation.CancelAsync().ConfigureAwait(false);
                await content.Copying.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            return Failed(context, backend, e, timedOut, upstream.Content as StreamingRequestContent);
        }

        using (response)
        {
            // The headers arrived in time; the body is timed by its reads (ReadDeadline), and the client can cancel it.
            headersTimer.HeadArrived();
            long headersAt = settings.Clock.Timestamp;
            if (FramingProblem(response) is { } problem)
            {
                // Disposing the unread response closes its connection (MaxResponseDrainSize is 0).
                health.ReportPassive(backend, Outcome.Failure);
                return AttemptResult.Failed(problem);
            }

            int status = (int)response.StatusCode;
            Outcome outcome = health.Classify(status, response.Headers);
            if (outcome.Kind == OutcomeKind.RateLimited)
            {
                // At once, so that the backend rests from now rather than from the end of the body.
                health.ReportPassive(backend, outcome);
            }

            HttpResponse downstream = context.Response;
            long bytes;
            try
            {
                downstream.StatusCode = status;
                CopyResponseHeaders(response, downstream.Headers, bodiless: status is 204 or 304);
                Stream body = await response.Content.ReadAsStreamAsync(cancellation.Token).ConfigureAwait(false);
                await using (body.ConfigureAwait(false))
                {
                    using var deadline = new ReadDeadline(cancellation.Token, settings.ResponseBodyIdleTimeout, settings.Clock);
                    bytes = await BodyCopy.CopyAsync(body, downstream.Body, deadline).ConfigureAwait(false);
                }

                TrailerRelay.Copy(response, downstream);
            }
            catch (Exception e)
            {
                // Also what Kestrel refuses to relay (an InvalidOperationException for a header it will not write).
                if (clientAborted.IsCancellationRequested)
                {
                    return AttemptResult.ClientGone;
                }

                health.ReportPassive(backend, Outcome.Failure);
                return AttemptResult.Failed(e.Message);
            }

            if (outcome.Kind != OutcomeKind.RateLimited)
            {
                health.ReportPassive(backend, outcome);
            }

            return AttemptResult.Completed(status, bytes, headersAt);
        }
    }

    public void Dispose() => _invoker.Dispose();

    /// <summary>
    /// The response-headers timeout of one attempt: armed once the request is out (after a body that may finish after
    /// the head arrived), disarmed for good once the head arrived.
    /// </summary>
    private sealed class HeadersTimer(CancellationTokenSource source, TimeSpan timeout)
    {
        private readonly Lock _lock = new();
        private bool _headArrived;

        public void Arm()
        {
            lock (_lock)
            {
                if (!_headArrived)
                {
                    try
                    {
                        source.CancelAfter(timeout);
                    }
                    catch (ObjectDisposedException)
                    {
                        // The attempt is over (its body finished sending after the response was relayed).
                    }
                }
            }
        }

        public void HeadArrived()
        {
            lock (_lock)
            {
                _headArrived = true;
                source.CancelAfter(Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>A failure before the response head, told apart as the direct path tells it, then classified alike.</summary>
    private AttemptResult Failed(HttpContext context, Backend backend, Exception e, bool timedOut, StreamingRequestContent? body)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            return AttemptResult.ClientGone;
        }

        if (FindClientError(e) is { } clientError)
        {
            // The client's own body was bad (e.g. over the size limit): Kestrel's status, not a backend failure.
            return AttemptClassifier.Classify(FailureStage.ClientBody, e.Message, false, true, true, clientError.StatusCode);
        }

        FailureStage stage = e switch
        {
            OperationCanceledException when timedOut => FailureStage.Timeout,
            HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } => FailureStage.Connect,
            OperationCanceledException { InnerException: TimeoutException } => FailureStage.Connect,
            HttpRequestException { HttpRequestError: HttpRequestError.InvalidResponse } => FailureStage.InvalidResponse,
            OperationCanceledException or HttpRequestException or IOException => FailureStage.NoResponse,
            _ => FailureStage.Unexpected,
        };
        if (stage != FailureStage.Unexpected)
        {
            // Not the backend's fault otherwise (a request HttpClient would not write): no mark against it.
            health.ReportPassive(backend, Outcome.Failure);
        }

        string error = stage == FailureStage.Unexpected ? e.GetType().Name + ": " + e.Message : e.Message;
        return AttemptClassifier.Classify(stage, error, AttemptClassifier.IsIdempotent(context.Request.Method), body is not null, body is { Started: true });
    }

    private static BadHttpRequestException? FindClientError(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is BadHttpRequestException bad)
            {
                return bad;
            }
        }

        return null;
    }
}
