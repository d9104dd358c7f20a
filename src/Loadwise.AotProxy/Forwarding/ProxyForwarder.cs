using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Loadwise.AotProxy.EventLoop;
using Loadwise.AotProxy.Health;
using Loadwise.AotProxy.Hosting;
using Loadwise.AotProxy.Metrics;
using Loadwise.AotProxy.RateLimiting;
using Loadwise.AotProxy.Routing;
using Loadwise.AotProxy.Threading;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace Loadwise.AotProxy.Forwarding;

/// <summary>Settings the forwarder needs, already validated and parsed.</summary>
internal sealed record ForwarderSettings(
    TimeSpan ConnectTimeout,
    TimeSpan ResponseHeadersTimeout,
    TimeSpan IdleTimeout,
    bool PreserveHost,
    bool XForwarded,
    ForwardedHeaders Forwarded)
{
    /// <summary>Gets the most retries of one request on other backends (0 = none).</summary>
    public int RetryCount { get; init; }

    /// <summary>
    /// Gets whether bodiless requests to plain-HTTP backends go over the proxy's own HTTP/1.1 connection pool
    /// (<see cref="Http1ConnectionPool"/>) rather than <see cref="HttpMessageInvoker"/>.
    /// </summary>
    public bool DirectHttp1 { get; init; }

    /// <summary>Gets the event loop the direct connections run on, or null for the runtime's sockets.</summary>
    public EventLoopGroup? EventLoop { get; init; }
}

/// <summary>
/// Forwards one request: rate-limit the client, pick a backend among the available ones (Core's health filter, then the
/// strategy, in one call), send the request upstream over a pooled connection with the body streamed, stream the
/// response back, and report the outcome to the health tracker. Errors map to 429 (client over its rate), 503 (no
/// backend available, with Retry-After), 502 (cannot connect, or the backend failed), 504 (no response headers in
/// time). A request that failed to connect, or an idempotent bodiless one that failed before any response byte, is
/// retried on another backend while the retry budget lasts; nothing is retried once the response has started. A
/// client that goes away cancels the upstream request and is counted as a client abort, not a backend failure.
/// </summary>
internal sealed class ProxyForwarder : IDisposable
{
    /// <summary>An attempt failed before anything was sent to the client and may be retried (the caller answers 502 otherwise).</summary>
    private const int Retryable = -1;

    /// <summary>The client went away; recorded as a drop, not a status.</summary>
    private const int ClientGone = 0;

    private readonly HttpMessageInvoker _invoker;
    private readonly Http1ConnectionPool?[] _pools;
    private readonly BackendNode[] _nodes;
    private readonly Backend[] _backends;
    private readonly ISelectionStrategy<BackendNode> _strategy;
    private readonly HealthFilter<BackendNode, string, NodeAccessor<BackendNode, string>> _healthFilter;
    private readonly BackendHealth _health;
    private readonly RetryBudget _retryBudget;
    private readonly ClientRateLimiter? _rateLimiter;
    private readonly HashKeySource? _hashKey;
    private readonly ForwarderSettings _settings;
    private readonly ProxyMetrics _metrics;
    private readonly DiagnosticsMetricsCollector _selections; // the sealed type: its generic OnSelected is a direct call, not a generic virtual lookup
    private readonly string _strategyName;
    private readonly ILogger _logger;
    private readonly PerCoreCells _inFlight = new(1);

    public ProxyForwarder(
        IReadOnlyList<Backend> backends,
        ISelectionStrategy<BackendNode> strategy,
        HashKeySource? hashKey,
        ForwarderSettings settings,
        ProxyMetrics metrics,
        DiagnosticsMetricsCollector selections,
        string strategyName,
        ILogger logger,
        BackendHealth health,
        RetryBudget retryBudget,
        ClientRateLimiter? rateLimiter)
    {
        _backends = [.. backends];
        _nodes = new BackendNode[backends.Count];
        for (int i = 0; i < _nodes.Length; i++)
        {
            _nodes[i] = new BackendNode(backends[i]);
        }

        _strategy = strategy;
        _health = health;
        _healthFilter = health.Filter;
        _retryBudget = retryBudget;
        _rateLimiter = rateLimiter;
        _hashKey = hashKey;
        _settings = settings;
        _metrics = metrics;
        _selections = selections;
        _strategyName = strategyName;
        _logger = logger;
        _invoker = new HttpMessageInvoker(CreateHandler(settings), disposeHandler: true);
        _pools = new Http1ConnectionPool?[_backends.Length];
        for (int i = 0; i < _pools.Length; i++)
        {
            if (settings.DirectHttp1 && _backends[i].Url.Scheme == Uri.UriSchemeHttp)
            {
                _pools[i] = new Http1ConnectionPool(_backends[i].Url, settings.ConnectTimeout, settings.IdleTimeout, settings.EventLoop);
            }
        }
    }

    /// <summary>Creates the one handler every upstream request goes through: pooled, and doing nothing a proxy must not.</summary>
    internal static SocketsHttpHandler CreateHandler(ForwarderSettings settings) => new()
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
        EnableMultipleHttp2Connections = true,
    };

    /// <summary>Gets the requests being forwarded right now.</summary>
    public long InFlight => _inFlight.Sum(0);

    /// <summary>Gets the backend connections idle in the proxy's own pools right now.</summary>
    public int IdleConnections => _pools.Sum(static pool => pool?.IdleCount ?? 0);

    /// <summary>Gets whether every backend is reached over the proxy's own HTTP/1.1 pools (what the fast path needs).</summary>
    public bool AllBackendsDirect => Array.TrueForAll(_pools, static pool => pool is not null);

    /// <summary>Forwards a request that came through Kestrel's HTTP layer, unless the request rules refuse it.</summary>
    public Task ForwardAsync(HttpContext context)
    {
        if (HasAmbiguousFraming(context.Request))
        {
            return RefuseAsync(context, new RequestRefusal(StatusCodes.Status400BadRequest, "400 request has both Content-Length and Transfer-Encoding\n"), ProxyMetrics.BadFraming);
        }

        if (RequestRules.Check(context, asteriskFormSupported: AllBackendsDirect) is { } refusal)
        {
            return RefuseAsync(context, refusal, ProxyMetrics.BadRequest);
        }

        return ForwardAsync(new KestrelExchange(context)).AsTask();
    }

    /// <summary>
    /// Forwards one request from either front end: rate limit, pick, attempt, retry on another backend while allowed,
    /// and record the outcome.
    /// </summary>
    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskMethodBuilder))]
    public async ValueTask ForwardAsync<TExchange>(TExchange exchange)
        where TExchange : IForwardingExchange
    {
        long started = Stopwatch.GetTimestamp();
        _inFlight.Add(0, 1);
        _metrics.RequestStarted();
        try
        {
            if (_rateLimiter is not null && !exchange.TryAcquireToken(_rateLimiter, out int retryAfter))
            {
                _metrics.Dropped(ProxyMetrics.RateLimited);
                await exchange.WriteErrorAsync(StatusCodes.Status429TooManyRequests, "429 too many requests from this client\n", retryAfter).ConfigureAwait(false);
                return;
            }

            // The retry loop lives here rather than in a helper: one async state machine per request, not two.
            ulong key = 0;
            bool hasKey = _hashKey is not null && _hashKey.TryGetKey(exchange, out key);
            // The request's one clock reading serves its first attempt too (retry budget, attempt timeout, pool).
            long attemptStarted = ProxyClock.Milliseconds(started);
            _retryBudget.OnRequest(attemptStarted);
            int[]? tried = null;
            int attempts = 0;
            Backend? failed = null;
            while (true)
            {
                int index = Select(hasKey, key, tried, attempts);
                if (index < 0)
                {
                    if (failed is null)
                    {
                        _metrics.Dropped(ProxyMetrics.NoBackend);
                        await exchange.WriteErrorAsync(StatusCodes.Status503ServiceUnavailable, "503 no backend available\n", _health.RetryAfterSeconds(_backends)).ConfigureAwait(false);
                        return;
                    }

                    // Nowhere left to retry: the failure stands.
                    await AnswerBadGatewayAsync(exchange, failed, started).ConfigureAwait(false);
                    return;
                }

                Backend backend = _backends[index];
                _selections.OnSelected(backend.Id, _strategyName);
                backend.Enter();
                int status;
                try
                {
                    if (_pools[index] is not { } pool || exchange.HasBody)
                    {
                        status = await ForwardToAsync(exchange.Context ?? throw new InvalidOperationException("a request without a Kestrel context needs a direct pool"), backend).ConfigureAwait(false);
                    }
                    else
                    {
                        // One attempt over the proxy's own HTTP/1.1 pool, written out here rather than in a method of
                        // its own: awaiting the backend in this state machine saves one state machine and one
                        // continuation per request. The exchange writes the request head; the response is parsed in the
                        // connection's buffer and relayed by the exchange. Same outcomes, statuses and retry rules as
                        // ForwardToAsync, without an HttpRequestMessage, HttpResponseMessage or Uri per request.
                        Http1Connection? connection = null;
                        Exception? failure = null;
                        // From the exchange: the fast path keeps one source and one lazy timer per connection (AttemptTimeout).
                        AttemptCancellation attemptCancellation = exchange.BeginAttempt(_settings.ResponseHeadersTimeout, attemptStarted);
                        try
                        {
                            CancellationToken cancellation = attemptCancellation.Token;
                            bool isHead = HttpMethods.IsHead(exchange.Method);
                            HttpOutputBuffer requestHead = default;
                            try
                            {
                                for (int reconnects = 0; ; reconnects++)
                                {
                                    bool reused = pool.TryRent(attemptStarted, out connection);
                                    if (!reused)
                                    {
                                        connection = await pool.ConnectAsync(cancellation).ConfigureAwait(false);
                                    }

                                    // Written into the connection's empty receive buffer, as it goes out whole before the
                                    // response is read into that buffer: no buffer rented per request (only a head over
                                    // 16 KiB rents).
                                    requestHead.Dispose();
                                    requestHead = new HttpOutputBuffer(connection.Buffer);
                                    exchange.WriteRequestHead(ref requestHead, backend, pool.BasePath, _settings);
                                    connection.BeginExchange();
                                    try
                                    {
                                        await connection.SendAsync(requestHead.Written, cancellation).ConfigureAwait(false);
                                        while (!Http1Response.TryReadHead(connection, connection.Head, isHead, out ValueTask<int> pending, cancellation))
                                        {
                                            // A failed receive throws SocketException, which DirectAttemptFailedAsync classifies by Received.
                                            Http1Response.ReceivedHeadBytes(connection, await pending.ConfigureAwait(false));
                                        }

                                        break;
                                    }
                                    catch (Exception e) when (reused && reconnects == 0 && connection.Received == 0
                                        && e is SocketException or UpstreamException { Error: UpstreamError.NoResponse })
                                    {
                                        // The backend closed this idle connection before the request arrived, so nothing
                                        // was processed: a new connection may carry it, whatever the method (HttpClient
                                        // does the same).
                                        connection.Dispose();
                                        connection = null;
                                    }
                                }
                            }
                            catch (Exception e)
                            {
                                // Whatever failed, the connection is disposed below (DirectAttemptFailedAsync): an
                                // ownership rule, not a list of exception types, so that none can leak it.
                                failure = e;
                            }
                            finally
                            {
                                requestHead.Dispose();
                            }

                            if (failure is null)
                            {
                                // From here RelayDirectAsync owns the connection: it returns it to the pool or disposes it.
                                Http1Connection relayed = connection!;
                                connection = null;
                                status = await RelayDirectAsync(exchange, backend, pool, relayed, attemptStarted).ConfigureAwait(false);
                            }
                            else
                            {
                                status = 0;
                            }
                        }
                        finally
                        {
                            exchange.EndAttempt(attemptCancellation);
                        }

                        if (failure is not null)
                        {
                            status = await DirectAttemptFailedAsync(exchange, backend, failure, connection).ConfigureAwait(false);
                        }
                    }
                }
                finally
                {
                    backend.Leave();
                }

                if (status == Retryable)
                {
                    failed = backend;
                    if (attempts < _settings.RetryCount)
                    {
                        attemptStarted = ProxyClock.NowMilliseconds;
                        if (_retryBudget.TryRetry(attemptStarted))
                        {
                            _metrics.Retry(ProxyMetrics.Retried);
                            tried ??= new int[_settings.RetryCount];
                            tried[attempts++] = index;
                            continue;
                        }

                        _metrics.Retry(ProxyMetrics.BudgetExhausted);
                    }

                    await AnswerBadGatewayAsync(exchange, backend, started).ConfigureAwait(false);
                    return;
                }

                if (status != ClientGone)
                {
                    _metrics.Completed(backend, status, Stopwatch.GetElapsedTime(started).TotalSeconds);
                }

                return;
            }
        }
        finally
        {
            _metrics.RequestEnded();
            _inFlight.Add(0, -1);
        }
    }

    public void Dispose()
    {
        _invoker.Dispose();
        foreach (Http1ConnectionPool? pool in _pools)
        {
            pool?.Dispose();
        }
    }

    private async Task AnswerBadGatewayAsync<TExchange>(TExchange exchange, Backend backend, long started)
        where TExchange : IForwardingExchange
    {
        await exchange.WriteErrorAsync(StatusCodes.Status502BadGateway, "502 backend unreachable\n").ConfigureAwait(false);
        _metrics.Completed(backend, StatusCodes.Status502BadGateway, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>
    /// A response failed after its head arrived: a client that went away is a drop; otherwise the backend failed. When
    /// no byte of the response has reached the client yet (a bad first chunk size, a header Kestrel refuses), what was
    /// buffered is dropped and the client gets a 502; once bytes are out, the only honest signal left is to cut the
    /// client's connection.
    /// </summary>
    private async ValueTask<int> ResponseBrokeOffAsync<TExchange>(TExchange exchange, Backend backend, Exception e)
        where TExchange : IForwardingExchange
    {
        if (exchange.ClientGone)
        {
            _metrics.Dropped(ProxyMetrics.ClientAbort);
            return ClientGone;
        }

        _health.ReportPassive(backend, Outcome.Failure);
        Log.UpstreamFailed(_logger, backend.Id, e.Message);
        if (exchange.TryDiscardResponse())
        {
            await exchange.WriteErrorAsync(StatusCodes.Status502BadGateway, "502 invalid response from the backend\n").ConfigureAwait(false);
            return StatusCodes.Status502BadGateway;
        }

        exchange.Abort();
        return StatusCodes.Status502BadGateway;
    }

    /// <summary>
    /// Answers a request the proxy will not forward and closes the connection. Kestrel accepts Content-Length with
    /// Transfer-Encoding (chunked wins, RFC 9112 section 6.3) and renames the length to X-Content-Length; a server behind
    /// may frame it the other way, the classic smuggling gap; the request rules (<see cref="RequestRules"/>) refuse the rest.
    /// </summary>
    private async Task RefuseAsync(HttpContext context, RequestRefusal refusal, KeyValuePair<string, object?> reason)
    {
        _metrics.RequestStarted();
        try
        {
            _metrics.Dropped(reason);
            context.Response.Headers.Connection = "close";
            if (refusal.Status == StatusCodes.Status405MethodNotAllowed)
            {
                context.Response.Headers.Allow = RequestRules.AllowedMethods;
            }

            await new KestrelExchange(context).WriteErrorAsync(refusal.Status, refusal.Reason).ConfigureAwait(false);
        }
        finally
        {
            _metrics.RequestEnded();
        }
    }

    /// <summary>
    /// Picks a backend: Core's health filter and the strategy in one allocation-free call. A retry excludes the backends
    /// already tried through the selection context's mask (on the stack; at most 4,096 backends, 64 words).
    /// </summary>
    private int Select(bool hasKey, ulong key, int[]? tried, int triedCount)
    {
        if (triedCount == 0)
        {
            var first = hasKey ? new SelectionContext { HashKey = key } : default;
            return Filter.TrySelect(_nodes, in first, _healthFilter, _strategy, out int index) ? index : -1;
        }

        int words = CandidateMask.WordsFor(_nodes.Length);
        Span<ulong> storage = words <= 64 ? stackalloc ulong[64] : new ulong[words];
        var mask = new CandidateMask(storage[..words], _nodes.Length, allowAll: true);
        for (int i = 0; i < triedCount; i++)
        {
            mask.Exclude(tried![i]);
        }

        var retry = new SelectionContext { HashKey = hasKey ? key : null, Mask = mask };
        return Filter.TrySelect(_nodes, in retry, _healthFilter, _strategy, out int retryIndex) ? retryIndex : -1;
    }

    /// <summary>
    /// One attempt on one backend. Returns the status sent to the client, <see cref="ClientGone"/>, or
    /// <see cref="Retryable"/> when it failed before anything was sent and a retry is safe (nothing was answered then).
    /// </summary>
    private async Task<int> ForwardToAsync(HttpContext context, Backend backend)
    {
        CancellationToken clientAborted = context.RequestAborted;
        using HttpRequestMessage upstream = CreateUpstreamRequest(context, backend);
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(clientAborted);
        cancellation.CancelAfter(_settings.ResponseHeadersTimeout);

        HttpResponseMessage response;
        try
        {
            response = await _invoker.SendAsync(upstream, cancellation.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or HttpRequestException or IOException)
        {
            if (clientAborted.IsCancellationRequested)
            {
                _metrics.Dropped(ProxyMetrics.ClientAbort);
                return ClientGone;
            }

            if (FindClientError(e) is { } clientError)
            {
                // The client's own body was bad (e.g. over the size limit): Kestrel's status, not a backend failure.
                await new KestrelExchange(context).WriteErrorAsync(clientError.StatusCode, $"{clientError.StatusCode} bad request body\n").ConfigureAwait(false);
                return clientError.StatusCode;
            }

            _health.ReportPassive(backend, Outcome.Failure);
            if (e is OperationCanceledException && cancellation.IsCancellationRequested)
            {
                // Not retried: the backend may still be working on it, and the client's wait would double.
                Log.UpstreamTimeout(_logger, backend.Id);
                await new KestrelExchange(context).WriteErrorAsync(StatusCodes.Status504GatewayTimeout, "504 backend did not answer in time\n").ConfigureAwait(false);
                return StatusCodes.Status504GatewayTimeout;
            }

            if (IsRetryable(context, e, upstream.Content as StreamingRequestContent))
            {
                Log.Retrying(_logger, backend.Id, e.Message);
                return Retryable;
            }

            Log.UpstreamFailed(_logger, backend.Id, e.Message);
            await new KestrelExchange(context).WriteErrorAsync(StatusCodes.Status502BadGateway, "502 backend unreachable\n").ConfigureAwait(false);
            return StatusCodes.Status502BadGateway;
        }

        using (response)
        {
            // The headers arrived in time; the body may take as long as it takes (only the client can cancel it).
            cancellation.CancelAfter(Timeout.InfiniteTimeSpan);
            if (FramingProblem(response) is { } problem)
            {
                // The same framing rules as the proxy's own parser; disposing the unread response closes the connection
                // (MaxResponseDrainSize is 0), so it never carries another request.
                _health.ReportPassive(backend, Outcome.Failure);
                Log.UpstreamFailed(_logger, backend.Id, problem);
                await new KestrelExchange(context).WriteErrorAsync(StatusCodes.Status502BadGateway, "502 invalid response from the backend\n").ConfigureAwait(false);
                return StatusCodes.Status502BadGateway;
            }

            int status = (int)response.StatusCode;
            Outcome outcome = _health.Classify(status, response.Headers);
            if (outcome.Kind == OutcomeKind.RateLimited)
            {
                // At once, so that the backend rests from now rather than from the end of the body.
                _health.ReportPassive(backend, outcome);
            }

            HttpResponse downstream = context.Response;
            try
            {
                downstream.StatusCode = status;
                CopyResponseHeaders(response, downstream.Headers, bodiless: status is 204 or 304);
                Stream body = await response.Content.ReadAsStreamAsync(cancellation.Token).ConfigureAwait(false);
                await using (body.ConfigureAwait(false))
                {
                    await BodyCopy.CopyAsync(body, downstream.Body, cancellation.Token).ConfigureAwait(false);
                }
            }
            catch (Exception e)
            {
                // Also what Kestrel refuses to relay (an InvalidOperationException for a header it will not write).
                return await ResponseBrokeOffAsync(new KestrelExchange(context), backend, e).ConfigureAwait(false);
            }

            if (outcome.Kind != OutcomeKind.RateLimited)
            {
                _health.ReportPassive(backend, outcome);
            }

            return status;
        }
    }

    /// <summary>
    /// The response of a direct attempt whose head arrived in time: classify it, relay it through the exchange (the body
    /// may take as long as it takes; only the client can cancel it), and put the connection back. Returns the status
    /// sent, or what <see cref="ResponseBrokeOffAsync"/> decides when the relay fails. A method of its own, yet no extra
    /// state machine on a small response: it completes without waiting when the body came with the head.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> RelayDirectAsync<TExchange>(TExchange exchange, Backend backend, Http1ConnectionPool pool, Http1Connection connection, long attemptStarted)
        where TExchange : IForwardingExchange
    {
        Http1ResponseHead head = connection.Head;
        Outcome outcome = _health.Classify(head.Status, head.RetryAfter);
        if (outcome.Kind == OutcomeKind.RateLimited)
        {
            // At once, so that the backend rests from now rather than from the end of the body.
            _health.ReportPassive(backend, outcome);
        }

        try
        {
            await exchange.RelayResponseAsync(connection, head, exchange.ClientAborted).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Any exception: the connection is in an unknown state, so it is closed, never pooled.
            connection.Dispose();
            return await ResponseBrokeOffAsync(exchange, backend, e).ConfigureAwait(false);
        }

        if (head.KeepAlive)
        {
            pool.Return(connection, attemptStarted);
        }
        else
        {
            connection.Dispose();
        }

        if (outcome.Kind != OutcomeKind.RateLimited)
        {
            _health.ReportPassive(backend, outcome);
        }

        return head.Status;
    }

    /// <summary>
    /// A direct attempt failed before its response head was read: a client that went away is a drop; a timeout answers
    /// 504 (not retried: the backend may still be working on it); a failed connect, or no response at all to an
    /// idempotent request, may be retried (<see cref="Retryable"/>); anything else answers 502.
    /// </summary>
    private async ValueTask<int> DirectAttemptFailedAsync<TExchange>(TExchange exchange, Backend backend, Exception e, Http1Connection? connection)
        where TExchange : IForwardingExchange
    {
        connection?.Dispose();
        if (exchange.ClientAborted.IsCancellationRequested)
        {
            _metrics.Dropped(ProxyMetrics.ClientAbort);
            return ClientGone;
        }

        _health.ReportPassive(backend, Outcome.Failure);
        if (e is OperationCanceledException)
        {
            Log.UpstreamTimeout(_logger, backend.Id);
            await exchange.WriteErrorAsync(StatusCodes.Status504GatewayTimeout, "504 backend did not answer in time\n").ConfigureAwait(false);
            return StatusCodes.Status504GatewayTimeout;
        }

        if (e is not (UpstreamException or SocketException))
        {
            // Not a network failure (a bug, or a request the proxy cannot write): never retried, always answered.
            Log.UpstreamFailed(_logger, backend.Id, e.GetType().Name + ": " + e.Message);
            await exchange.WriteErrorAsync(StatusCodes.Status502BadGateway, "502 backend unreachable\n").ConfigureAwait(false);
            return StatusCodes.Status502BadGateway;
        }

        UpstreamError error = e is UpstreamException upstream ? upstream.Error : connection?.Received > 0 ? UpstreamError.InvalidResponse : UpstreamError.NoResponse;
        if (error == UpstreamError.Connect || (error == UpstreamError.NoResponse && IsIdempotent(exchange.Method)))
        {
            Log.Retrying(_logger, backend.Id, e.Message);
            return Retryable;
        }

        Log.UpstreamFailed(_logger, backend.Id, e.Message);
        await exchange.WriteErrorAsync(StatusCodes.Status502BadGateway, "502 backend unreachable\n").ConfigureAwait(false);
        return StatusCodes.Status502BadGateway;
    }

    /// <summary>
    /// A failed attempt may be retried when the request never reached the backend (the connection failed and no body
    /// byte was read), or when it is idempotent, has no body, and failed before any response byte.
    /// </summary>
    private static bool IsRetryable(HttpContext context, Exception e, StreamingRequestContent? body)
    {
        bool connectFailed = e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError }
            || (e is OperationCanceledException && e.InnerException is TimeoutException);
        if (connectFailed && (body is null || !body.Started))
        {
            return true;
        }

        return IsIdempotent(context.Request.Method) && body is null && e is not HttpRequestException { HttpRequestError: HttpRequestError.InvalidResponse };
    }

    private static bool IsIdempotent(string method) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method)
        || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method) || HttpMethods.IsTrace(method);

    private static bool HasAmbiguousFraming(HttpRequest request)
    {
        IHeaderDictionary headers = request.Headers;
        return headers.TransferEncoding.Count != 0
            && (headers.ContentLength is not null || headers.ContainsKey("Content-Length") || headers.ContainsKey("X-Content-Length"));
    }

    internal static bool HasBody(HttpContext context) =>
        context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? context.Request.ContentLength > 0;

    private HttpRequestMessage CreateUpstreamRequest(HttpContext context, Backend backend)
    {
        HttpRequest request = context.Request;
        var upstream = new HttpRequestMessage(HttpMethod.Parse(request.Method), new Uri(backend.UrlPrefix + RequestTarget(context)))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };

        if (HasBody(context))
        {
            upstream.Content = new StreamingRequestContent(request.Body);
        }

        IHeaderDictionary headers = request.Headers;
        string? connection = headers.Connection.Count == 0 ? null : headers.Connection.ToString();
        bool xForwarded = _settings.XForwarded;
        HeaderNameSet? untrusted = _settings.Forwarded.IsTrusted(context.Connection.RemoteIpAddress) ? null : _settings.Forwarded.Untrusted;
        foreach (KeyValuePair<string, StringValues> header in headers)
        {
            if (HeaderRules.SkipRequestHeader(header.Key, connection, xForwarded, untrusted))
            {
                continue;
            }

            AddRequestHeader(upstream, header.Key, header.Value);
        }

        if (_settings.PreserveHost && request.Host.HasValue)
        {
            upstream.Headers.Host = request.Host.Value;
        }

        if (xForwarded)
        {
            AddForwardedHeaders(context, upstream.Headers);
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

    private void AddForwardedHeaders(HttpContext context, HttpRequestHeaders target)
    {
        ForwardedValues(context, _settings.Forwarded, out string forwardedFor, out string proto, out string? host);
        target.TryAddWithoutValidation(ForwardedHeaders.ForwardedFor, forwardedFor);
        target.TryAddWithoutValidation(ForwardedHeaders.ForwardedProto, proto);
        if (host is not null)
        {
            target.TryAddWithoutValidation(ForwardedHeaders.ForwardedHost, host);
        }
    }

    /// <summary>The X-Forwarded-* values to send for a Kestrel request (<see cref="ForwardedHeaders.Resolve"/>).</summary>
    internal static void ForwardedValues(HttpContext context, ForwardedHeaders rules, out string forwardedFor, out string proto, out string? host)
    {
        IHeaderDictionary incoming = context.Request.Headers;
        IPAddress? peer = context.Connection.RemoteIpAddress;
        bool trusted = rules.IsTrusted(peer);
        ForwardedHeaders.Resolve(
            trusted,
            ForwardedHeaders.PeerText(peer),
            trusted ? incoming[ForwardedHeaders.ForwardedFor].ToString() : null,
            trusted ? incoming[ForwardedHeaders.ForwardedProto].ToString() : null,
            trusted ? incoming[ForwardedHeaders.ForwardedHost].ToString() : null,
            context.Request.Scheme,
            context.Request.Host.Value,
            out forwardedFor,
            out proto,
            out host);
    }

    /// <summary>
    /// What HttpClient accepted but the proxy's own parser (<see cref="Http1ResponseHead.TryParse"/>) refuses: a
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

        if (response.Headers.NonValidated.TryGetValues("Transfer-Encoding", out HeaderStringValues codings)
            && !Http1ResponseHead.TryParseCodings(string.Join(", ", codings), out _, out _))
        {
            return "invalid Transfer-Encoding: chunked must be the final coding, once";
        }

        return null;
    }

    /// <summary>
    /// Copies the end-to-end headers. Kestrel frames the body itself: the length goes on only where a body follows
    /// (never on 204 or 304, where Kestrel refuses it), and never because a Connection header named it.
    /// </summary>
    private static void CopyResponseHeaders(HttpResponseMessage response, IHeaderDictionary target, bool bodiless)
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
            && Http1ResponseHead.TryParseCodings(codings.ToString(), out _, out string? others) && others is not null)
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

    /// <summary>The request target as the client sent it (still percent-encoded), so the backend sees the same URL.</summary>
    internal static string RequestTarget(HttpContext context)
    {
        string? raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (!string.IsNullOrEmpty(raw) && (raw[0] == '/' || raw == "*"))
        {
            // "*" is OPTIONS's asterisk form: forwarded as it is (the origin form would be empty, which no server takes).
            return raw;
        }

        HttpRequest request = context.Request;
        return string.Concat(request.PathBase.ToUriComponent(), request.Path.ToUriComponent(), request.QueryString.ToUriComponent());
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
