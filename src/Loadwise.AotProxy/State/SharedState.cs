using System.Diagnostics.Metrics;
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

    public async ValueTask DisposeAsync()
    {
        if (_health is not null)
        {
            await _health.DisposeAsync().ConfigureAwait(false);
        }

        await _connection.DisposeAsync().ConfigureAwait(false);
    }
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

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
#endif
