using System.Diagnostics.Metrics;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.RateLimiting;
#if LOADWISE_REDIS
using Loadwise.Redis;
#endif

namespace Loadwise.AotProxy.State;

#if LOADWISE_REDIS
/// <summary>
/// The proxy's side of Loadwise.Redis: one connection, the store its health tracker writes behind to, and the shared
/// health that takes on the other proxies' changes. Picks never touch Redis; while it is out, the proxy keeps its own view.
/// </summary>
internal sealed class SharedState : IAsyncDisposable
{
    private readonly RedisStateConnection _connection;
    private readonly StateOptions _options;
    private readonly ILogger _logger;
    private SharedHealth<string>? _health;

    private SharedState(StateOptions options, ILogger logger, IMeterFactory meterFactory, TimeProvider time)
    {
        _options = options;
        _logger = logger;
        _connection = RedisStateConnection.Connect(new RedisStateOptions
        {
            Configuration = options.Redis!,
            KeyPrefix = options.KeyPrefix!,
            OperationTimeout = TimeSpan.FromMilliseconds(options.OperationTimeoutMs),
            Logger = logger,
            MeterFactory = meterFactory,
            TimeProvider = time,
        });
        Store = new RedisStateStore(_connection);
    }

    /// <summary>Gets the store the health tracker writes its changes to.</summary>
    public RedisStateStore Store { get; }

    /// <summary>Connects when the section names a Redis; null otherwise.</summary>
    public static SharedState? Create(StateOptions options, ILogger logger, IMeterFactory meterFactory, TimeProvider time) =>
        options.Redis is null ? null : new SharedState(options, logger, meterFactory, time);

    /// <summary>
    /// Reads the shared health into <paramref name="tracker"/> and follows it from then on; a reload calls it again with
    /// the new configuration's tracker, and the previous one stops following.
    /// </summary>
    public async Task FollowAsync(HealthTracker<string> tracker)
    {
        bool first = _health is null;
        if (_health is not null)
        {
            await _health.DisposeAsync().ConfigureAwait(false);
        }

        _health = await SharedHealth.StartAsync(tracker, Store, new SharedHealthOptions
        {
            EjectQuorum = _options.EjectQuorum,
            ReconcileInterval = TimeSpan.FromMilliseconds(_options.ReconcileMs),
        }).ConfigureAwait(false);
        if (!first)
        {
            return;
        }

        _logger.LogInformation(
            "Shared state: health through Redis {Redis} (prefix {Prefix}, eject quorum {Quorum}, instance {Instance})",
            _options.Redis,
            _options.KeyPrefix,
            _options.EjectQuorum,
            _connection.Options.InstanceId);
    }

    /// <summary>
    /// Makes the per-client limit the proxies on this Redis and prefix share (<c>RateLimiting:Shared</c>): at most
    /// <c>TokensPerSecond</c> per client per second across them; the caller disposes it.
    /// </summary>
    public IFleetRateLimit CreateRateLimit(RateLimitingOptions options) =>
        new FleetRateLimit(new SharedRateLimit<UInt128>(_connection, new SharedRateLimitOptions
        {
            Name = "clients",
            PermitsPerWindow = options.TokensPerSecond,
            Window = TimeSpan.FromSeconds(1),
            SyncInterval = TimeSpan.FromMilliseconds(options.SyncMs),
        }));

    public async ValueTask DisposeAsync()
    {
        if (_health is not null)
        {
            await _health.DisposeAsync().ConfigureAwait(false);
        }

        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>The fleet's per-client limit over <see cref="SharedRateLimit{TKey}"/>, keyed by the client's address key.</summary>
internal sealed class FleetRateLimit(SharedRateLimit<UInt128> limit) : IFleetRateLimit
{
    public bool TryAcquire(UInt128 client, out int retryAfterSeconds)
    {
        bool admitted = limit.TryAcquire(client, out TimeSpan retryAfter);
        retryAfterSeconds = admitted ? 0 : Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        return admitted;
    }

    public ValueTask DisposeAsync() => limit.DisposeAsync();
}
#else

/// <summary>
/// This build has no Redis integration (<c>-p:LoadwiseRedis=false</c>, the native default): validation refuses
/// <c>State:Redis</c>, so there is never shared state to make.
/// </summary>
internal sealed class SharedState : IAsyncDisposable
{
    private SharedState()
    {
    }

    /// <summary>Gets the store the health tracker writes its changes to (never, in this build).</summary>
    public IStateStore Store => throw new NotSupportedException("built without Redis");

    /// <summary>Gets null: validated options never name a Redis in this build.</summary>
    public static SharedState? Create(StateOptions options, ILogger logger, IMeterFactory meterFactory, TimeProvider time) =>
        options.Redis is null && logger is not null && meterFactory is not null && time is not null ? null : throw new NotSupportedException("built without Redis");

    /// <summary>Never called in this build.</summary>
    public Task FollowAsync(HealthTracker<string> tracker) => throw new NotSupportedException($"built without Redis ({tracker})");

    /// <summary>Never called in this build.</summary>
    public IFleetRateLimit CreateRateLimit(RateLimitingOptions options) => throw new NotSupportedException($"built without Redis ({options.SyncMs})");

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
#endif
