using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Loadwise.Redis;

/// <summary>
/// Shares a <see cref="HealthTracker{TId}"/>'s health with every other instance on the same Redis and key prefix. The
/// tracker writes its own changes through its <see cref="HealthTrackerOptions.StateStore"/> (a
/// <see cref="RedisStateStore"/>); this takes on the others' changes, announced on a channel and re-read in full every
/// <see cref="SharedHealthOptions.ReconcileInterval"/> (messages sent while a subscriber is disconnected are lost).
/// </summary>
/// <remarks>
/// <para>
/// Picks never touch Redis: they read the tracker, which this updates with <see cref="HealthTracker{TId}.Apply"/>. A
/// stored state is taken on when it supersedes (<see cref="NodeState.Supersedes"/>) the newest state this instance has
/// written or taken on for that node, and, when it is Unhealthy, only once at least
/// <see cref="SharedHealthOptions.EjectQuorum"/> instances' own latest view is Unhealthy (1, the default: any instance
/// ejects a node fleet-wide). A node comes back when an instance's probes bring it back: that change has a higher
/// version and is taken on everywhere.
/// </para>
/// <para>
/// While Redis is out each instance keeps its own view; when it answers, writes kept meanwhile go out and the state
/// is re-read at once.
/// </para>
/// </remarks>
/// <typeparam name="TId">The node id type.</typeparam>
/// <example>
/// <code>
/// var store = new RedisStateStore(connection);
/// var tracker = new HealthTracker&lt;string&gt;(new HealthTrackerOptions { StateStore = store });
/// await using var shared = await SharedHealth.StartAsync(tracker, store);
/// </code>
/// </example>
public sealed class SharedHealth<TId> : IAsyncDisposable
    where TId : notnull, IEquatable<TId>
{
    private readonly HealthTracker<TId> _tracker;
    private readonly RedisStateStore _store;
    private readonly RedisStateConnection _connection;
    private readonly SharedHealthOptions _options;
    private readonly ConcurrentDictionary<string, NodeState> _seen = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TId> _ids = new(StringComparer.Ordinal);
    private readonly Lock _applyGate = new();
    private ITimer? _timer;
    private int _reconciling;
    private long _applied;
    private bool _disposed;

    internal SharedHealth(HealthTracker<TId> tracker, RedisStateStore store, SharedHealthOptions options)
    {
        _tracker = tracker;
        _store = store;
        _connection = store.Connection;
        _options = options;
        _store.Writing += OnOwnWrite;
        _connection.Recovered += OnRecovered;
    }

    /// <summary>Gets the tracker this shares: hand it to a balancer (<c>.WithRedis(shared)</c> or <c>.WithHealth(shared.Tracker)</c>).</summary>
    /// <example><code>HealthStatus status = shared.Tracker.GetStatus("api-2");</code></example>
    public HealthTracker<TId> Tracker => _tracker;

    /// <summary>Gets how many states written by other instances this one has taken on.</summary>
    /// <example><code>long taken = shared.AppliedCount;</code></example>
    public long AppliedCount => Interlocked.Read(ref _applied);

    /// <summary>Reads every known node's shared state now and takes on what is newer (also done on a timer).</summary>
    /// <returns>A task that completes when read; errors are counted by the connection, not thrown.</returns>
    /// <example><code>await shared.ReconcileAsync();</code></example>
    public async Task ReconcileAsync()
    {
        if (!_connection.IsAvailable || Interlocked.Exchange(ref _reconciling, 1) != 0)
        {
            return;
        }

        try
        {
            var keys = new List<string>();
            foreach (TId id in _tracker.GetNodeIds())
            {
                string key = _tracker.GetStoreKey(id);
                _ids.TryAdd(key, id);
                keys.Add(key);
            }

            IReadOnlySet<string>? voters = await HeartbeatAsync().ConfigureAwait(false);
            foreach (StoredVotes? read in await _store.ReadManyAsync(keys, voters).ConfigureAwait(false))
            {
                Consider(read);
            }
        }
        catch (Exception)
        {
            // Counted and marked out by the connection; the next reconcile after recovery catches up.
        }
        finally
        {
            Volatile.Write(ref _reconciling, 0);
        }
    }

    /// <summary>Stops listening and removes this instance's votes, so that a quorum no longer counts it.</summary>
    /// <returns>A task that completes when stopped.</returns>
    /// <example><code>await shared.DisposeAsync();</code></example>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _store.Writing -= OnOwnWrite;
        _connection.Recovered -= OnRecovered;
        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            await _connection.Multiplexer.GetSubscriber().UnsubscribeAsync(_connection.Keys.HealthChannel, OnMessage).ConfigureAwait(false);
            if (_connection.IsAvailable && _options.EjectQuorum > 1)
            {
                await _store.LeaveVotersAsync().ConfigureAwait(false);
                foreach (string key in _seen.Keys)
                {
                    await _store.RemoveVoteAsync(key).ConfigureAwait(false);
                }
            }
        }
        catch (Exception)
        {
            // Best effort on the way out; the connection counted it.
        }

        if (OwnsTracker)
        {
            // Made by SharedHealth.StartAsync(connection): its pending writes go out before the caller closes the connection.
            await _tracker.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Gets or sets whether disposing also disposes the tracker (true when this made it).</summary>
    internal bool OwnsTracker { get; set; }

    internal async Task StartAsync()
    {
        try
        {
            await _connection.Multiplexer.GetSubscriber().SubscribeAsync(_connection.Keys.HealthChannel, OnMessage).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // The multiplexer subscribes again when it connects; until then the reconcile timer does the work.
            _connection.Options.Logger?.LogDebug("Shared health subscription deferred: {Error}", exception.Message);
        }

        await ReconcileAsync().ConfigureAwait(false);
        _timer = _connection.Options.TimeProvider.CreateTimer(static state => _ = ((SharedHealth<TId>)state!).ReconcileAsync(), this, _options.ReconcileInterval, _options.ReconcileInterval);
    }

    /// <summary>
    /// With a quorum, records this instance's heartbeat and gets the voters heard from lately (only their votes count);
    /// null without one, when every vote is moot.
    /// </summary>
    private async Task<IReadOnlySet<string>?> HeartbeatAsync()
    {
        if (_options.EjectQuorum == 1)
        {
            return null;
        }

        return await _store.HeartbeatAsync(_options.EffectiveVoterTimeout).ConfigureAwait(false);
    }

    private void OnMessage(RedisChannel channel, RedisValue message) => _ = OnMessageAsync(message.ToString());

    private async Task OnMessageAsync(string key)
    {
        if (!IsOurs(key))
        {
            return; // another pool or tracker on the same prefix
        }

        try
        {
            // Fresh voters: the announcing instance may have joined after this one's last reconcile.
            IReadOnlySet<string>? voters = await HeartbeatAsync().ConfigureAwait(false);
            Consider(await _store.ReadAsync(key, voters).ConfigureAwait(false));
        }
        catch (Exception)
        {
            // Counted by the connection; the reconcile after recovery catches up.
        }
    }

    private bool IsOurs(string key)
    {
        if (_ids.ContainsKey(key))
        {
            return true;
        }

        foreach (TId id in _tracker.GetNodeIds())
        {
            _ids.TryAdd(_tracker.GetStoreKey(id), id);
        }

        return _ids.ContainsKey(key);
    }

    private void Consider(StoredVotes? read)
    {
        if (read is null || _disposed || !_ids.TryGetValue(read.Key, out TId? id))
        {
            return;
        }

        NodeState state = read.State;
        if (state.Status == HealthStatus.Unhealthy && read.UnhealthyVotes < _options.EjectQuorum)
        {
            return; // not yet ejected fleet-wide; read again when the next vote is announced
        }

        lock (_applyGate)
        {
            long local = _tracker.CaptureState(id).Version;
            if (!state.Supersedes(_seen.GetValueOrDefault(read.Key)) || local > state.Version ||
                (local == state.Version && state.Writer == _connection.Options.InstanceId))
            {
                return; // one already taken on, older than a change not yet written, or this instance's current own
            }

            _seen[read.Key] = state;
            _tracker.Apply(id, state);
        }

        Interlocked.Increment(ref _applied);
        if (_options.EjectQuorum > 1 && state.Status != HealthStatus.Unhealthy)
        {
            // This instance's own Unhealthy vote would otherwise outlive the recovery it has just taken on.
            _ = VoteQuietlyAsync(read.Key, state);
        }
    }

    private async Task VoteQuietlyAsync(string key, NodeState state)
    {
        try
        {
            await _store.VoteAsync(key, state).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Counted by the connection.
        }
    }

    private void OnOwnWrite(string key, NodeState state)
    {
        lock (_applyGate)
        {
            if (state.Supersedes(_seen.GetValueOrDefault(key)))
            {
                _seen[key] = state;
            }
        }
    }

    private void OnRecovered() => _ = ReconcileAsync();
}

/// <summary>Starts <see cref="SharedHealth{TId}"/>.</summary>
/// <example><code>await using var shared = await SharedHealth.StartAsync(tracker, store, new SharedHealthOptions { EjectQuorum = 2 });</code></example>
public static class SharedHealth
{
    /// <summary>Subscribes to the other instances' changes, reads the current shared state once, and starts the reconcile timer.</summary>
    /// <typeparam name="TId">The node id type.</typeparam>
    /// <param name="tracker">The tracker, made with <paramref name="store"/> as its <see cref="HealthTrackerOptions.StateStore"/>.</param>
    /// <param name="store">The Redis store.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <returns>The running component; dispose it to stop.</returns>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    /// <example><code>await using var shared = await SharedHealth.StartAsync(tracker, store);</code></example>
    public static async Task<SharedHealth<TId>> StartAsync<TId>(HealthTracker<TId> tracker, RedisStateStore store, SharedHealthOptions? options = null)
        where TId : notnull, IEquatable<TId>
    {
        ArgumentNullException.ThrowIfNull(tracker);
        ArgumentNullException.ThrowIfNull(store);
        options ??= new SharedHealthOptions();
        options.Validate();
        var shared = new SharedHealth<TId>(tracker, store, options);
        await shared.StartAsync().ConfigureAwait(false);
        return shared;
    }

    /// <summary>
    /// Makes a tracker whose changes go to Redis through <paramref name="connection"/> (on the connection's clock) and
    /// starts sharing it: the usual way to give a balancer fleet-wide health.
    /// </summary>
    /// <param name="connection">The instance's Redis connection.</param>
    /// <param name="policy">When a node becomes Unhealthy and recovers; null for three failures in a row.</param>
    /// <param name="options">Sharing settings; null for the defaults.</param>
    /// <returns>The running component; its <see cref="SharedHealth{TId}.Tracker"/> goes to the balancer. Dispose it to stop.</returns>
    /// <example><code>
    /// await using SharedHealth&lt;string&gt; shared = await SharedHealth.StartAsync(connection);
    /// LoadBalancer&lt;Api&gt; balancer = LoadBalancer.For&lt;Api&gt;().UseLeastLoad().WithRedis(shared).Build(apis);
    /// </code></example>
    public static Task<SharedHealth<string>> StartAsync(RedisStateConnection connection, IHealthPolicy? policy = null, SharedHealthOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var store = new RedisStateStore(connection);
        var tracker = new HealthTracker<string>(new HealthTrackerOptions
        {
            StateStore = store,
            Policy = policy ?? ConsecutiveFailurePolicy.Default,
            TimeProvider = connection.Options.TimeProvider,
        });
        return StartOwningAsync(tracker, store, options);
    }

    private static async Task<SharedHealth<string>> StartOwningAsync(HealthTracker<string> tracker, RedisStateStore store, SharedHealthOptions? options)
    {
        try
        {
            SharedHealth<string> shared = await StartAsync(tracker, store, options).ConfigureAwait(false);
            shared.OwnsTracker = true;
            return shared;
        }
        catch
        {
            await tracker.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
