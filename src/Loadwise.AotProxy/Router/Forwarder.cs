using System.Runtime.CompilerServices;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Health;
using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Logging;
using Loadwise.AotProxy.Metrics;
using Loadwise.AotProxy.RateLimiting;
using Loadwise.AotProxy.Threading;
using Loadwise.AotProxy.Upstream;

namespace Loadwise.AotProxy.Router;

/// <summary>
/// The router: the one forwarding loop behind both front ends. Rate-limit the client, pick a backend among the
/// available ones (Core's health filter, then the strategy, in one call), run one attempt on it (<see cref="DirectAttempt"/>
/// or <see cref="HttpClientAttempt"/>), and act on its <see cref="AttemptResult"/>: record it, retry a retryable failure
/// on another backend while the retry budget lasts, or answer 429 (client over its rate), 503 (no backend available,
/// with Retry-After), 502 (the backend failed) or 504 (no response head in time).
/// </summary>
/// <example><code>
/// using var forwarder = new Forwarder(backends, strategy, hashKey, settings, metrics, selections, "RoundRobin", logger, health, budget, limiter);
/// await forwarder.ForwardAsync(new KestrelExchange(httpContext));
/// </code></example>
internal sealed partial class Forwarder : IDisposable
{
    private readonly HttpClientAttempt _httpClient;
    private readonly DirectAttempt?[] _direct;
    private readonly UpstreamTarget[] _targets;
    private readonly BackendNode[] _nodes;
    private readonly Backend[] _backends;
    private readonly ISelectionStrategy<BackendNode> _strategy;
    private readonly PanicFilter<BackendNode, HealthFilter<BackendNode, string, NodeAccessor<BackendNode, string>>> _healthFilter;
    private readonly BackendHealth _health;
    private readonly RetryBudget _retryBudget;
    private readonly ClientRateLimiter? _rateLimiter;
    private readonly HashKeySource? _hashKey;
    private readonly ForwarderSettings _settings;
    private readonly ProxyMetrics _metrics;
    private readonly DiagnosticsMetricsCollector _selections; // the sealed type: OnSelected is a direct call
    private readonly string _strategyName;
    private readonly ILogger _logger;
    private readonly ProxyClock _clock;

    public Forwarder(
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
        _direct = new DirectAttempt?[backends.Count];
        _targets = new UpstreamTarget[backends.Count];
        for (int i = 0; i < _nodes.Length; i++)
        {
            Backend backend = _backends[i];
            _nodes[i] = new BackendNode(backend);
            _targets[i] = new UpstreamTarget(backend.Authority, backend.Url.AbsolutePath.TrimEnd('/'), settings.PreserveHost, settings.XForwarded, settings.Forwarded);
            if (settings.DirectHttp1 && backend.Url.Scheme == Uri.UriSchemeHttp)
            {
                _direct[i] = new DirectAttempt(backend, new ConnectionPool(backend.Url, settings.Upstream), settings.Upstream, health);
            }
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
        _httpClient = new HttpClientAttempt(settings.Upstream, health);
        _clock = settings.Upstream.Clock;
    }

    /// <summary>Gets the requests being forwarded right now.</summary>
    public long InFlight => _metrics.ActiveRequests;

    /// <summary>Gets the backend connections idle in the proxy's own pools right now.</summary>
    public int IdleConnections => _direct.Sum(static attempt => attempt?.Pool.IdleCount ?? 0);

    /// <summary>Gets whether every backend is reached over the proxy's own HTTP/1.1 connections (what the codec needs).</summary>
    public bool AllBackendsDirect => Array.TrueForAll(_direct, static attempt => attempt is not null);

    /// <summary>
    /// Forwards one request from either front end: rate limit, pick, attempt, retry on another backend while allowed,
    /// and record the outcome.
    /// </summary>
    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskMethodBuilder))]
    public async ValueTask ForwardAsync<TExchange>(TExchange exchange)
        where TExchange : IClientExchange
    {
        long started = _clock.Timestamp;
        _metrics.RequestStarted();
        try
        {
            if (_rateLimiter is not null && !_rateLimiter.TryAcquire(exchange, out int retryAfter))
            {
                _metrics.Dropped(ProxyMetrics.RateLimited);
                await exchange.WriteErrorAsync(StatusCodes.Status429TooManyRequests, "429 too many requests from this client\n", retryAfter).ConfigureAwait(false);
                return;
            }

            ulong key = 0;
            bool hasKey = _hashKey is not null && _hashKey.TryGetKey(exchange, out key);
            // The request's one clock reading serves its first attempt too (retry budget, attempt timeout, pool).
            long attemptStarted = _clock.Milliseconds(started);
            _retryBudget.OnRequest(attemptStarted);
            int[]? tried = null;
            int attempts = 0;
            while (true)
            {
                int index = Select(hasKey, key, tried, attempts);
                if (index < 0)
                {
                    await NoBackendAsync(exchange, tried, attempts, started).ConfigureAwait(false);
                    return;
                }

                Backend backend = _backends[index];
                _selections.OnSelected(_strategyName);
                backend.Enter();
                AttemptResult result;
                try
                {
                    result = _direct[index] is { } direct
                        ? await direct.ForwardAsync(exchange, _targets[index], attemptStarted).ConfigureAwait(false)
                        : await _httpClient.ForwardAsync(exchange, backend, _targets[index]).ConfigureAwait(false);
                }
                finally
                {
                    backend.Leave();
                }

                if (result.Outcome == AttemptOutcome.Retryable && attempts < _settings.RetryCount)
                {
                    attemptStarted = _clock.NowMilliseconds;
                    if (_retryBudget.TryRetry(attemptStarted))
                    {
                        Log.Retrying(_logger, backend.Id, result.Error!);
                        _metrics.Retry(ProxyMetrics.Retried);
                        tried ??= new int[_settings.RetryCount];
                        tried[attempts++] = index;
                        continue;
                    }

                    _metrics.Retry(ProxyMetrics.BudgetExhausted);
                }

                await AnswerAsync(exchange, backend, result, started).ConfigureAwait(false);
                return;
            }
        }
        finally
        {
            _metrics.RequestEnded();
        }
    }

    public void Dispose()
    {
        _httpClient.Dispose();
        foreach (DirectAttempt? attempt in _direct)
        {
            attempt?.Pool.Dispose();
        }
    }
}
