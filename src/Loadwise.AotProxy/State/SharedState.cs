using System.Diagnostics.Metrics;
using Loadwise.Redis;

namespace Loadwise.AotProxy.State;

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

    /// <summary>Reads the shared health once and follows it from then on.</summary>
    public async Task StartAsync(HealthTracker<string> tracker)
    {
        _health = await SharedHealth.StartAsync(tracker, Store, new SharedHealthOptions
        {
            EjectQuorum = _options.EjectQuorum,
            ReconcileInterval = TimeSpan.FromMilliseconds(_options.ReconcileMs),
        }).ConfigureAwait(false);
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
