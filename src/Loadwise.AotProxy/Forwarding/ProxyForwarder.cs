using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Loadwise.AotProxy.Hosting;
using Loadwise.AotProxy.Metrics;
using Loadwise.AotProxy.Routing;
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
    ForwardedHeaders Forwarded);

/// <summary>
/// Forwards one request: pick a backend, send the request upstream over a pooled connection with the body streamed,
/// stream the response back. Errors map to 503 (no backend), 502 (cannot connect, or the backend failed), 504 (no
/// response headers in time). A client that goes away cancels the upstream request and is counted as a client abort.
/// </summary>
internal sealed class ProxyForwarder : IDisposable
{
    private readonly HttpMessageInvoker _invoker;
    private readonly BackendNode[] _nodes;
    private readonly ISelectionStrategy<BackendNode> _strategy;
    private readonly HashKeySource? _hashKey;
    private readonly ForwarderSettings _settings;
    private readonly ProxyMetrics _metrics;
    private readonly IMetricsCollector _selections;
    private readonly string _strategyName;
    private readonly ILogger _logger;
    private long _inFlight;

    public ProxyForwarder(
        IReadOnlyList<Backend> backends,
        ISelectionStrategy<BackendNode> strategy,
        HashKeySource? hashKey,
        ForwarderSettings settings,
        ProxyMetrics metrics,
        IMetricsCollector selections,
        string strategyName,
        ILogger logger)
    {
        _nodes = new BackendNode[backends.Count];
        for (int i = 0; i < _nodes.Length; i++)
        {
            _nodes[i] = new BackendNode(backends[i]);
        }

        _strategy = strategy;
        _hashKey = hashKey;
        _settings = settings;
        _metrics = metrics;
        _selections = selections;
        _strategyName = strategyName;
        _logger = logger;
        _invoker = new HttpMessageInvoker(CreateHandler(settings), disposeHandler: true);
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
        EnableMultipleHttp2Connections = true,
    };

    /// <summary>Gets the requests being forwarded right now.</summary>
    public long InFlight => Volatile.Read(ref _inFlight);

    public async Task ForwardAsync(HttpContext context)
    {
        long started = Stopwatch.GetTimestamp();
        Interlocked.Increment(ref _inFlight);
        _metrics.RequestStarted();
        try
        {
            Backend? backend = Select(context);
            if (backend is null)
            {
                _metrics.Dropped(ProxyMetrics.NoBackend);
                await WriteErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "503 no backend available\n").ConfigureAwait(false);
                return;
            }

            _selections.OnSelected(backend.Id, _strategyName);
            backend.Enter();
            int status;
            try
            {
                status = await ForwardToAsync(context, backend).ConfigureAwait(false);
            }
            finally
            {
                backend.Leave();
            }

            if (status != 0)
            {
                _metrics.Completed(backend, status, Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
        }
        finally
        {
            _metrics.RequestEnded();
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public void Dispose() => _invoker.Dispose();

    private Backend? Select(HttpContext context)
    {
        ulong key = 0;
        bool hasKey = _hashKey is not null && _hashKey.TryGetKey(context, out key);
        var selection = hasKey ? new SelectionContext { HashKey = key } : default;
        return _strategy.TrySelect(_nodes, in selection, out int index) ? _nodes[index].Backend : null;
    }

    /// <summary>Returns the status code to record, or 0 when the client went away (recorded as a drop instead).</summary>
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
                return 0;
            }

            if (FindClientError(e) is { } clientError)
            {
                // The client's own body was bad (e.g. over the size limit): Kestrel's status, not a backend failure.
                await WriteErrorAsync(context, clientError.StatusCode, $"{clientError.StatusCode} bad request body\n").ConfigureAwait(false);
                return clientError.StatusCode;
            }

            if (e is OperationCanceledException && cancellation.IsCancellationRequested)
            {
                Log.UpstreamTimeout(_logger, backend.Id);
                await WriteErrorAsync(context, StatusCodes.Status504GatewayTimeout, "504 backend did not answer in time\n").ConfigureAwait(false);
                return StatusCodes.Status504GatewayTimeout;
            }

            Log.UpstreamFailed(_logger, backend.Id, e.Message);
            await WriteErrorAsync(context, StatusCodes.Status502BadGateway, "502 backend unreachable\n").ConfigureAwait(false);
            return StatusCodes.Status502BadGateway;
        }

        using (response)
        {
            // The headers arrived in time; the body may take as long as it takes (only the client can cancel it).
            cancellation.CancelAfter(Timeout.InfiniteTimeSpan);
            int status = (int)response.StatusCode;
            HttpResponse downstream = context.Response;
            downstream.StatusCode = status;
            CopyResponseHeaders(response, downstream.Headers);
            try
            {
                Stream body = await response.Content.ReadAsStreamAsync(cancellation.Token).ConfigureAwait(false);
                await using (body.ConfigureAwait(false))
                {
                    await BodyCopy.CopyAsync(body, downstream.Body, cancellation.Token).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or HttpRequestException or IOException)
            {
                if (clientAborted.IsCancellationRequested)
                {
                    _metrics.Dropped(ProxyMetrics.ClientAbort);
                    return 0;
                }

                // The status line may be out already, so the only honest signal left is to cut the connection.
                Log.UpstreamFailed(_logger, backend.Id, e.Message);
                context.Abort();
                return StatusCodes.Status502BadGateway;
            }

            return status;
        }
    }

    private HttpRequestMessage CreateUpstreamRequest(HttpContext context, Backend backend)
    {
        HttpRequest request = context.Request;
        var upstream = new HttpRequestMessage(HttpMethod.Parse(request.Method), new Uri(backend.UrlPrefix + RequestTarget(context)))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };

        if (context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? request.ContentLength > 0)
        {
            upstream.Content = new StreamingRequestContent(request.Body);
        }

        IHeaderDictionary headers = request.Headers;
        string? connection = headers.Connection.Count == 0 ? null : headers.Connection.ToString();
        bool xForwarded = _settings.XForwarded;
        foreach (KeyValuePair<string, StringValues> header in headers)
        {
            if (HeaderRules.SkipRequestHeader(header.Key, connection, xForwarded))
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
        IHeaderDictionary incoming = context.Request.Headers;
        IPAddress? peer = context.Connection.RemoteIpAddress;
        bool trusted = _settings.Forwarded.IsTrusted(peer);
        string peerText = peer is null ? "unknown" : (peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4() : peer).ToString();

        StringValues forwardedFor = incoming[ForwardedHeaders.ForwardedFor];
        target.TryAddWithoutValidation(
            ForwardedHeaders.ForwardedFor,
            trusted && !StringValues.IsNullOrEmpty(forwardedFor) ? string.Concat(forwardedFor.ToString(), ", ", peerText) : peerText);

        StringValues proto = incoming[ForwardedHeaders.ForwardedProto];
        target.TryAddWithoutValidation(ForwardedHeaders.ForwardedProto, trusted && !StringValues.IsNullOrEmpty(proto) ? proto.ToString() : context.Request.Scheme);

        StringValues host = incoming[ForwardedHeaders.ForwardedHost];
        string? hostValue = trusted && !StringValues.IsNullOrEmpty(host) ? host.ToString() : context.Request.Host.Value;
        if (!string.IsNullOrEmpty(hostValue))
        {
            target.TryAddWithoutValidation(ForwardedHeaders.ForwardedHost, hostValue);
        }
    }

    private static void CopyResponseHeaders(HttpResponseMessage response, IHeaderDictionary target)
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
            if (!HeaderRules.IsHopByHop(header.Key, connection))
            {
                target[header.Key] = ToStringValues(header.Value);
            }
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
    private static string RequestTarget(HttpContext context)
    {
        string? raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (!string.IsNullOrEmpty(raw) && raw[0] == '/')
        {
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

    private static async Task WriteErrorAsync(HttpContext context, int status, string body)
    {
        HttpResponse response = context.Response;
        if (response.HasStarted)
        {
            context.Abort();
            return;
        }

        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        try
        {
            await response.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The client left while we were telling it; nothing more to do.
        }
    }
}
