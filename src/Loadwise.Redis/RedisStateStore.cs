using System.Collections.Concurrent;
using StackExchange.Redis;

namespace Loadwise.Redis;

/// <summary>
/// An <see cref="IStateStore"/> in Redis, shared by every instance that uses the same Redis and key prefix: one hash per
/// state key, written by a script that keeps the newer state by <see cref="NodeState.Supersedes"/> (version, then
/// time, then writer), records the writer's own view as its vote, and announces the write on the health channel.
/// </summary>
/// <remarks>
/// <para>
/// Give it to <see cref="HealthTrackerOptions.StateStore"/> and the tracker writes its changes behind (never on a pick);
/// add a <see cref="SharedHealth{TId}"/> to take on the other instances' changes. A state without a
/// <see cref="NodeState.Writer"/> is written with <see cref="RedisStateOptions.InstanceId"/>.
/// </para>
/// <para>
/// A put never throws for Redis errors: while Redis is out (<see cref="RedisStateConnection.IsAvailable"/> false), or when
/// the write fails, the state is kept in memory (the put returns at once) and the latest kept state of each key is
/// written when Redis answers again; errors are counted by the connection. Reads and lists throw Redis errors.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// await using var connection = RedisStateConnection.Connect(new RedisStateOptions { Configuration = "127.0.0.1:6379" });
/// var store = new RedisStateStore(connection);
/// var tracker = new HealthTracker&lt;string&gt;(new HealthTrackerOptions { StateStore = store });
/// </code>
/// </example>
public sealed class RedisStateStore : IStateStore
{
    // Keeps the newer of the stored and the written state (NodeState.Supersedes, on microseconds), the writer's vote
    // unless the writer already voted with a later version, and announces any change.
    private const string PutScript = """
        local v = tonumber(ARGV[7])
        local u = tonumber(ARGV[6])
        local w = ARGV[8]
        local newer = false
        if ARGV[11] == '0' then
          newer = true
          local cur = redis.call('HMGET', KEYS[1], 'v', 'u', 'w')
          if cur[1] then
            local cv = tonumber(cur[1])
            local cu = tonumber(cur[2])
            if v < cv then newer = false
            elseif v == cv then
              if u < cu then newer = false
              elseif u == cu and w <= (cur[3] or '') then newer = false end
            end
          end
        end
        local vote = 'o:' .. w
        local own = redis.call('HGET', KEYS[1], vote)
        local voted = false
        if (not own) or tonumber(string.match(own, '^(%d+)')) <= v then
          redis.call('HSET', KEYS[1], vote, ARGV[7] .. ':' .. ARGV[1])
          voted = true
        end
        if newer then
          redis.call('HSET', KEYS[1], 's', ARGV[1], 'f', ARGV[2], 'c', ARGV[3], 'ss', ARGV[4], 'ra', ARGV[5], 'u', ARGV[6], 'v', ARGV[7], 'w', w)
        end
        if newer or voted then redis.call('PUBLISH', ARGV[9], ARGV[10]) end
        if newer then return 1 end
        return 0
        """;

    // ARGV: instance, timeout ms. Replies with the voters heard from within the timeout.
    private const string HeartbeatScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local timeout = tonumber(ARGV[2])
        redis.call('ZADD', KEYS[1], now, ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - timeout)
        redis.call('PEXPIRE', KEYS[1], timeout * 2)
        return redis.call('ZRANGE', KEYS[1], 0, -1)
        """;

    private readonly RedisStateConnection _connection;
    private readonly ConcurrentDictionary<string, NodeState> _pending = new(StringComparer.Ordinal);

    /// <summary>Creates the store on a shared connection.</summary>
    /// <param name="connection">The process's Redis connection.</param>
    /// <exception cref="ArgumentNullException"><paramref name="connection"/> is null.</exception>
    /// <example><code>var store = new RedisStateStore(connection);</code></example>
    public RedisStateStore(RedisStateConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connection = connection;
        _connection.Recovered += () => _ = WritePendingAsync();
    }

    /// <summary>Gets the connection.</summary>
    /// <example><code>bool up = store.Connection.IsAvailable;</code></example>
    public RedisStateConnection Connection => _connection;

    /// <summary>Gets the number of puts kept in memory while Redis is out, waiting for it to answer.</summary>
    /// <example><code>int waiting = store.PendingCount;</code></example>
    public int PendingCount => _pending.Count;

    /// <summary>Raised before each own write with the state as written (its writer filled in), for <see cref="SharedHealth{TId}"/>.</summary>
    internal event Action<string, NodeState>? Writing;

    /// <inheritdoc/>
    public async ValueTask<NodeState?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        StoredVotes? read = await ReadAsync(key).ConfigureAwait(false);
        return read?.State;
    }

    /// <inheritdoc/>
    public async ValueTask PutAsync(string key, NodeState state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(state);
        cancellationToken.ThrowIfCancellationRequested();
        // Stored to the microsecond: truncated here too, so the script's comparison and Supersedes agree.
        state = state with
        {
            Writer = state.Writer.Length == 0 ? _connection.Options.InstanceId : state.Writer,
            UpdatedAt = FromMicros(Micros(state.UpdatedAt)),
        };

        Writing?.Invoke(key, state);
        if (!_connection.IsAvailable)
        {
            Keep(key, state);
            return;
        }

        try
        {
            await WriteAsync(key, state, voteOnly: false).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Counted and marked out by the connection (not thrown, so the tracker's own hook does not count it twice);
            // written when Redis answers again.
            Keep(key, state);
        }
    }

    /// <inheritdoc/>
    public async ValueTask<bool> RemoveAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        _pending.TryRemove(key, out _);
        return await _connection.CallAsync(_connection.Database.KeyDeleteAsync(_connection.Keys.State(key)), "remove", key).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<StoredNodeState>> ListAsync(string keyPrefix = "", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keyPrefix);
        var keys = new List<string>();
        foreach (IServer server in _connection.Multiplexer.GetServers())
        {
            if (server.IsReplica || !server.IsConnected)
            {
                continue;
            }

            await foreach (RedisKey redisKey in server.KeysAsync(pattern: _connection.Keys.StatePattern(keyPrefix)).WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (_connection.Keys.StateKeyOf(redisKey.ToString()) is { } key)
                {
                    keys.Add(key);
                }
            }
        }

        var entries = new List<StoredNodeState>(keys.Count);
        foreach (StoredVotes? read in await ReadManyAsync(keys).ConfigureAwait(false))
        {
            if (read is { } found)
            {
                entries.Add(new StoredNodeState(found.Key, found.State));
            }
        }

        return entries;
    }

    /// <summary>
    /// Records this instance's heartbeat as a voter and returns the voters heard from within <paramref name="timeout"/>,
    /// on Redis's clock.
    /// </summary>
    internal async Task<IReadOnlySet<string>> HeartbeatAsync(TimeSpan timeout)
    {
        RedisResult reply = await _connection.CallAsync(
            _connection.Database.ScriptEvaluateAsync(HeartbeatScript, [_connection.Keys.Voters], [_connection.Options.InstanceId, (long)timeout.TotalMilliseconds]),
            "heartbeat",
            _connection.Options.InstanceId).ConfigureAwait(false);
        var voters = new HashSet<string>(StringComparer.Ordinal);
        foreach (RedisResult voter in (RedisResult[])reply!)
        {
            voters.Add(voter.ToString());
        }

        return voters;
    }

    /// <summary>Takes this instance out of the voters (when it stops).</summary>
    internal Task<bool> LeaveVotersAsync() =>
        _connection.CallAsync(_connection.Database.SortedSetRemoveAsync(_connection.Keys.Voters, _connection.Options.InstanceId), "heartbeat", _connection.Options.InstanceId);

    /// <summary>Reads several keys' merged states and votes in one pipelined batch; null for keys with nothing stored.</summary>
    internal async Task<StoredVotes?[]> ReadManyAsync(IReadOnlyList<string> keys, IReadOnlySet<string>? voters = null)
    {
        IBatch batch = _connection.Database.CreateBatch();
        var reads = new Task<HashEntry[]>[keys.Count];
        for (int i = 0; i < reads.Length; i++)
        {
            reads[i] = batch.HashGetAllAsync(_connection.Keys.State(keys[i]));
        }

        batch.Execute();
        await _connection.CallAsync(Task.WhenAll(reads).ContinueWith(static _ => true, TaskScheduler.Default), "list", keys.Count == 0 ? "" : keys[0]).ConfigureAwait(false);
        var results = new StoredVotes?[reads.Length];
        for (int i = 0; i < reads.Length; i++)
        {
            results[i] = StoredVotes.Parse(keys[i], await reads[i].ConfigureAwait(false), voters);
        }

        return results;
    }

    /// <summary>Reads one key's merged state and votes.</summary>
    internal async Task<StoredVotes?> ReadAsync(string key, IReadOnlySet<string>? voters = null)
    {
        HashEntry[] fields = await _connection.CallAsync(_connection.Database.HashGetAllAsync(_connection.Keys.State(key)), "get", key).ConfigureAwait(false);
        return StoredVotes.Parse(key, fields, voters);
    }

    /// <summary>Records this instance's vote (its view of the node) without touching the merged state.</summary>
    internal Task VoteAsync(string key, NodeState state) =>
        WriteAsync(key, state with { Writer = _connection.Options.InstanceId }, voteOnly: true);

    /// <summary>Removes this instance's vote on a key (when it stops, so that a quorum does not count it).</summary>
    internal Task<bool> RemoveVoteAsync(string key) =>
        _connection.CallAsync(_connection.Database.HashDeleteAsync(_connection.Keys.State(key), "o:" + _connection.Options.InstanceId), "remove", key);

    private Task<RedisResult> WriteAsync(string key, NodeState state, bool voteOnly)
    {
        RedisValue[] arguments =
        [
            (int)state.Status,
            state.ConsecutiveFailures,
            state.ConsecutiveSuccesses,
            Micros(state.StatusSince),
            state.RetryAt is { } retryAt ? Micros(retryAt) : 0,
            Micros(state.UpdatedAt),
            state.Version,
            state.Writer,
            _connection.Keys.HealthChannel.ToString(),
            key,
            voteOnly ? "1" : "0",
        ];
        return _connection.CallAsync(_connection.Database.ScriptEvaluateAsync(PutScript, [_connection.Keys.State(key)], arguments), "put", key);
    }

    private void Keep(string key, NodeState state) =>
        _pending.AddOrUpdate(key, static (_, incoming) => incoming, static (_, kept, incoming) => incoming.Supersedes(kept) ? incoming : kept, state);

    private async Task WritePendingAsync()
    {
        foreach (KeyValuePair<string, NodeState> entry in _pending)
        {
            if (!_connection.IsAvailable)
            {
                return;
            }

            try
            {
                await WriteAsync(entry.Key, entry.Value, voteOnly: false).ConfigureAwait(false);
                _pending.TryRemove(entry);
            }
            catch (Exception)
            {
                return; // counted and marked out by the connection; written on the next recovery
            }
        }
    }

    internal static long Micros(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.Ticks) / 10;

    internal static DateTimeOffset FromMicros(long micros) => new(DateTimeOffset.UnixEpoch.Ticks + (micros * 10), TimeSpan.Zero);
}
