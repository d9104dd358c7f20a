using System.Runtime.CompilerServices;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Configuration;
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
/// using var forwarder = new Forwarder(backends, StrategyFactory.Create(options.Strategy, backends.Count, time), hashKey, settings, metrics, selections, "RoundRobin", logger, health, budget, limiter);
/// await forwarder.ForwardAsync(new KestrelExchange(httpContext));
/// </code></example>
internal sealed partial class Forwarder
{
    private readonly HttpClientAttempt _httpClient;
    private readonly UpgradeAttempt? _upgrade;
    private readonly DirectAttempt?[] _direct;
    private readonly UpstreamTarget[] _targets;
    private readonly BackendNode[] _nodes;
    private readonly Backend[] _backends;
    private readonly ISelectionStrategy<BackendNode> _strategy;
    private readonly RoutingFilter _filter;
    private readonly PeakEwmaTracker? _latency;
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
    private readonly PerCoreCells _active = new(2); // 0: in flight on this forwarder, each request counted once, here; 1: held by a front end
    private int _drained;

    public Forwarder(
        IReadOnlyList<Backend> backends,
        SelectionStrategy strategy,
        HashKeySource? hashKey,
        ForwarderSettings settings,
        ProxyMetrics metrics,
        DiagnosticsMetricsCollector selections,
        string strategyName,
        ILogger logger,
        BackendHealth health,
        RetryBudget retryBudget,
        ClientRateLimiter? rateLimiter,
        Forwarder? previous = null)
    {
        _backends = [.. backends];
        _nodes = new BackendNode[backends.Count];
        _direct = new DirectAttempt?[backends.Count];
        _targets = new UpstreamTarget[backends.Count];
        for (int i = 0; i < _nodes.Length; i++)
        {
            Backend backend = _backends[i];
            _nodes[i] = new BackendNode(backend, settings.Levels?[i] ?? 0);
            _targets[i] = new UpstreamTarget(backend.Authority, backend.Url.AbsolutePath.TrimEnd('/'), settings.PreserveHost, settings.XForwarded, settings.Forwarded);
            if (settings.DirectHttp1 && backend.Url.Scheme == Uri.UriSchemeHttp && !backend.Http2)
            {
                // A backend kept across a reload keeps its pooled connections, unless the timeouts they were made
                // with changed.
                ConnectionPool pool = previous?.PoolFor(backend, settings.Upstream) ?? new ConnectionPool(backend.Url, settings.Upstream);
                _direct[i] = new DirectAttempt(backend, pool, settings.Upstream, health);
            }

            _drained += backend.Drained ? 1 : 0;
        }

        _strategy = strategy.Strategy;
        _latency = strategy.Latency;
        _health = health;
        _filter = new RoutingFilter(
            health.Filter,
            settings.Levels is null ? null : new(health.Filter, PriorityOverprovisioning, settings.FirstBackupLevel),
            settings.SlowStart);
        _retryBudget = retryBudget;
        _rateLimiter = rateLimiter;
        _hashKey = hashKey;
        _settings = settings;
        _metrics = metrics;
        _selections = selections;
        _strategyName = strategyName;
        _logger = logger;
        _httpClient = new HttpClientAttempt(settings.Upstream, health);
        _upgrade = settings.WebSockets ? new UpgradeAttempt(settings.Upstream, health) : null;
        _clock = settings.Upstream.Clock;
        StrategyName = strategyName;
        ReadHeaders = hashKey?.Kind switch
        {
            HashKeyKind.Header => [ForwardedHeaders.ForwardedFor, ForwardedHeaders.ForwardedProto, ForwardedHeaders.ForwardedHost, hashKey.Name!],
            HashKeyKind.Cookie => [ForwardedHeaders.ForwardedFor, ForwardedHeaders.ForwardedProto, ForwardedHeaders.ForwardedHost, "Cookie"],
            _ => [ForwardedHeaders.ForwardedFor, ForwardedHeaders.ForwardedProto, ForwardedHeaders.ForwardedHost],
        };
    }

    /// <summary>Gets the requests being forwarded by this forwarder right now.</summary>
    public long InFlight => _active.Sum(0);

    /// <summary>Gets whether a request is in flight here or a front end holds this forwarder for one (it may not retire).</summary>
    public bool Busy => _active.Sum(0) + _active.Sum(1) > 0;

    /// <summary>Marks a request a front end is about to forward here (see <see cref="ActiveForwarder.Acquire"/>).</summary>
    internal void Hold() => _active.Add(1, 1);

    /// <summary>Ends a <see cref="Hold"/>.</summary>
    public void Release() => _active.Add(1, -1);

    /// <summary>Gets the backends, in configuration order.</summary>
    public IReadOnlyList<Backend> Backends => _backends;

    /// <summary>Gets the backends' health (Core's tracker and filter).</summary>
    public BackendHealth Health => _health;

    /// <summary>Gets the name of the strategy, as configured.</summary>
    public string StrategyName { get; }

    /// <summary>Gets the trust rules for forwarding headers.</summary>
    public ForwardedHeaders Forwarded => _settings.Forwarded;

    /// <summary>Gets the headers the router reads from a request (forwarding headers, the hash key's), which it may carry at most once.</summary>
    public string[] ReadHeaders { get; }

    /// <summary>Gets the slow-start filter, or null when slow start is off.</summary>
    public SlowStartFilter<BackendNode, string, NodeAccessor<BackendNode, string>>? SlowStart => _filter.SlowStart;

    /// <summary>Gets PeakEwma's latency tracker (indices as in <see cref="Backends"/>), or null for other strategies.</summary>
    public PeakEwmaTracker? Latency => _latency;

    /// <summary>Gets the picks made in health panic.</summary>
    public long PanicPicks => _filter.Health.PanicPicks;

    /// <summary>
    /// Takes a backend out of service (drain) or puts it back: no new request goes to a drained backend, in any
    /// forwarder made after this one too (the flag is the backend's). Returns false for an unknown id.
    /// </summary>
    public bool SetDrained(string id, bool drained)
    {
        Backend? backend = Array.Find(_backends, b => b.Id == id);
        if (backend is null)
        {
            return false;
        }

        backend.Drained = drained;
        Volatile.Write(ref _drained, _backends.Count(static b => b.Drained));
        return true;
    }

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
        _active.Add(0, 1);
        AccessLog? accessLog = _settings.AccessLog;
        (int Status, long Bytes) answer = (0, 0);
        Backend? backend = null;
        long upstreamTicks = 0;
        int attempts = 0;
        try
        {
            if (_rateLimiter is not null && !_rateLimiter.TryAcquire(exchange, out int retryAfter))
            {
                _metrics.Dropped(ProxyMetrics.RateLimited);
                answer = await ErrorAsync(exchange, StatusCodes.Status429TooManyRequests, "429 too many requests from this client\n", retryAfter).ConfigureAwait(false);
                return;
            }

            ulong key = 0;
            bool hasKey = _hashKey is not null && _hashKey.TryGetKey(exchange, out key);
            // The request's one clock reading serves its first attempt too (retry budget, attempt timeout, pool).
            long attemptStarted = _clock.Milliseconds(started);
            _retryBudget.OnRequest(attemptStarted);
            int[]? tried = null;
            UpgradeAttempt? upgrade = _upgrade is not null && UpgradeAttempt.IsWebSocketUpgrade(exchange.Context) ? _upgrade : null;
            while (true)
            {
                int index = Select(hasKey, key, tried, attempts);
                if (index < 0)
                {
                    (answer, backend) = await NoBackendAsync(exchange, tried, attempts, started).ConfigureAwait(false);
                    return;
                }

                backend = _backends[index];
                _selections.OnSelected(_strategyName);
                backend.Enter();
                _latency?.Begin(index);
                long attemptTimestamp = accessLog is null && _latency is null ? 0 : _clock.Timestamp;
                AttemptResult result = default;
                bool finished = false;
                try
                {
                    result = upgrade is not null ? await upgrade.ForwardAsync(exchange.Context!, backend, _targets[index]).ConfigureAwait(false)
                        : _direct[index] is { } direct
                        ? await direct.ForwardAsync(exchange, _targets[index], attemptStarted).ConfigureAwait(false)
                        : await _httpClient.ForwardAsync(exchange, backend, _targets[index]).ConfigureAwait(false);
                    finished = true;
                }
                finally
                {
                    backend.Leave();
                    if (_latency is not null)
                    {
                        ReportLatency(index, result, attemptTimestamp, exchange, threw: !finished);
                    }

                    if (accessLog is not null)
                    {
                        upstreamTicks += _clock.Timestamp - attemptTimestamp;
                    }
                }

                if (result.Outcome == AttemptOutcome.Retryable && attempts < _settings.RetryCount)
                {
                    backend.Stats.RecordError(_clock.Time.GetUtcNow(), result.Error ?? "failed");
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

                answer = await AnswerAsync(exchange, backend, result, started).ConfigureAwait(false);
                return;
            }
        }
        finally
        {
            _active.Add(0, -1);
            if (accessLog is not null)
            {
                Record(accessLog, exchange, answer, backend, upstreamTicks, started, attempts);
            }
        }
    }

    /// <summary>
    /// Closes what this forwarder holds once its requests finished: its HttpClient connections, and the pools that
    /// <paramref name="next"/> did not take over (all of them at shutdown, when there is no next).
    /// </summary>
    public void Retire(Forwarder? next)
    {
        _httpClient.Dispose();
        _upgrade?.Dispose();
        foreach (DirectAttempt? attempt in _direct)
        {
            if (attempt is not null && (next is null || !next.Uses(attempt.Pool)))
            {
                attempt.Pool.Dispose();
            }
        }
    }

    /// <summary>The pool of <paramref name="backend"/> when this forwarder has one made with the same settings, else null.</summary>
    private ConnectionPool? PoolFor(Backend backend, UpstreamSettings settings)
    {
        int i = Array.IndexOf(_backends, backend);
        return i >= 0 && _direct[i] is { } attempt && attempt.Pool.MakesConnectionsAs(settings) ? attempt.Pool : null;
    }

    private bool Uses(ConnectionPool pool) => Array.Exists(_direct, a => ReferenceEquals(a?.Pool, pool));
}
