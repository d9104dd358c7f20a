using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Loadwise.Redis;

/// <summary>
/// A per-key request limit per window that a fleet shares: 100 requests per second for one client is 100 across every
/// instance on the same Redis, key prefix and <see cref="SharedRateLimitOptions.Name"/>. <see cref="TryAcquire"/> decides
/// locally and never waits on Redis; every <see cref="SharedRateLimitOptions.SyncInterval"/> one script reserves permits
/// for the keys this instance serves and gives back those it no longer needs.
/// </summary>
/// <remarks>
/// <para>
/// Permits are reserved before they are spent: the window's count in Redis is the sum of every instance's reservations,
/// and a script grants at most what is left, so reservations never exceed the limit. An instance asks for twice what a
/// key wanted in the last sync interval, and gets at most its share of what is left (the remainder over the live
/// instances, counted by heartbeat), so one instance cannot take a window's permits from the others; a key that only one
/// instance serves reaches the limit within a few syncs. Windows are counted on Redis's clock (<c>TIME</c>).
/// </para>
/// <para>
/// Until its first reservation of a window lands, an instance admits a key up to its share of one sync interval's worth
/// (limit x interval / window / instances) and charges them at the next sync. These can exceed the limit only when an
/// instance's first reservation of a window lands after the fleet spent nearly all of it (it first saw the key late, or
/// its sync ran late): by at most that share per instance. While
/// Redis is out each instance admits up to its share of the whole limit per window (with the instance count it last
/// knew), so the fleet stays near the limit without Redis.
/// </para>
/// </remarks>
/// <typeparam name="TKey">The key type (a client address, a user id); its <see cref="object.ToString"/> names the key in Redis.</typeparam>
/// <example>
/// <code>
/// await using var limit = new SharedRateLimit&lt;string&gt;(connection, new SharedRateLimitOptions { Name = "users", PermitsPerWindow = 100 });
/// if (!limit.TryAcquire(userId, out TimeSpan retryAfter))
/// {
///     return Results.StatusCode(429); // with Retry-After: retryAfter
/// }
/// </code>
/// </example>
public sealed class SharedRateLimit<TKey> : IAsyncDisposable
    where TKey : notnull
{
    // ARGV: instance, window ms, heartbeat ttl ms, limit, then per key: field, charge (spent unreserved minus given
    // back), ask. Replies: Redis time, live instances, then a grant per key.
    private const string SyncScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[3])
        local limit = tonumber(ARGV[4])
        redis.call('ZADD', KEYS[2], now, ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
        redis.call('PEXPIRE', KEYS[2], ttl * 2)
        local n = redis.call('ZCARD', KEYS[2])
        local reply = { now, n }
        for i = 5, #ARGV, 3 do
          local used = (tonumber(redis.call('HGET', KEYS[1], ARGV[i])) or 0) + tonumber(ARGV[i + 1])
          if used < 0 then used = 0 end
          local grant = 0
          local ask = tonumber(ARGV[i + 2])
          if ask > 0 and used < limit then
            grant = math.min(ask, math.ceil((limit - used) / n))
          end
          redis.call('HSET', KEYS[1], ARGV[i], used + grant)
          reply[#reply + 1] = grant
        end
        if #ARGV >= 5 then
          redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
        end
        return reply
        """;

    private const int BatchKeys = 1_000;

    private readonly RedisStateConnection _connection;
    private readonly SharedRateLimitOptions _options;
    private readonly ConcurrentDictionary<TKey, Entry> _entries = new();
    private readonly string _windowKeyPrefix;
    private readonly RedisKey _members;
    private readonly long _windowMs;
    private readonly long _memberTtlMs;
    private readonly double _syncsPerWindow;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private long _offsetMs;
    private long _fastestRoundTripMs = long.MaxValue / 4;
    private int _instances = 1;

    /// <summary>Starts the limit and its sync loop.</summary>
    /// <param name="connection">The process's Redis connection.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    /// <example><code>var limit = new SharedRateLimit&lt;UInt128&gt;(connection, new SharedRateLimitOptions { PermitsPerWindow = 50 });</code></example>
    public SharedRateLimit(RedisStateConnection connection, SharedRateLimitOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        options ??= new SharedRateLimitOptions();
        options.Validate();
        _connection = connection;
        _options = options;
        _time = connection.Options.TimeProvider;
        _windowMs = (long)options.Window.TotalMilliseconds;
        _memberTtlMs = Math.Max(500, 5 * (long)options.SyncInterval.TotalMilliseconds);
        _syncsPerWindow = options.Window / options.SyncInterval;
        // One hash tag per limit: its windows and its members live in one slot (Redis Cluster).
        _windowKeyPrefix = connection.Keys.Prefix + "r{" + options.Name + "}w";
        _members = connection.Keys.Prefix + "r{" + options.Name + "}m";
        _loop = Task.Run(SyncLoopAsync);
    }

    /// <summary>Gets how many instances shared the limit at the last sync (1 before the first).</summary>
    /// <example><code>int fleet = limit.Instances;</code></example>
    public int Instances => Volatile.Read(ref _instances);

    /// <summary>Gets how many keys this instance is tracking (those used in the current or the previous window).</summary>
    /// <example><code>int clients = limit.TrackedKeys;</code></example>
    public int TrackedKeys => _entries.Count;

    /// <summary>Takes one permit for <paramref name="key"/>, locally; false with the time until the window ends when none is left.</summary>
    /// <param name="key">The key the limit applies to.</param>
    /// <param name="retryAfter">When refused, how long until the next window; zero when admitted.</param>
    /// <returns>Whether the request is admitted.</returns>
    /// <example><code>bool admitted = limit.TryAcquire(clientKey, out TimeSpan retryAfter);</code></example>
    public bool TryAcquire(TKey key, out TimeSpan retryAfter)
    {
        long now = NowMs();
        long window = now / _windowMs;
        while (true)
        {
            Entry entry = _entries.GetOrAdd(key, static k => new Entry(k.ToString() ?? ""));
            lock (entry)
            {
                if (entry.Removed)
                {
                    continue;
                }

                // Never backwards: a clock correction across a boundary must not hand out a window's permits twice.
                if (window > entry.Window)
                {
                    entry.Window = window;
                    entry.Reserved = 0;
                    entry.Unreserved = 0;
                    entry.Wanted = 0;
                    entry.Provisional = ProvisionalShare();
                }

                entry.Wanted++;
                if (entry.Reserved > 0)
                {
                    entry.Reserved--;
                    retryAfter = TimeSpan.Zero;
                    return true;
                }

                if (entry.Provisional > 0)
                {
                    entry.Provisional--;
                    entry.Unreserved++;
                    retryAfter = TimeSpan.Zero;
                    return true;
                }

                retryAfter = TimeSpan.FromMilliseconds(Math.Max(1, ((entry.Window + 1) * _windowMs) - now));
                return false;
            }
        }
    }

    /// <summary>Stops the sync loop and takes this instance out of the fleet's count.</summary>
    /// <returns>A task that completes when stopped.</returns>
    /// <example><code>await limit.DisposeAsync();</code></example>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        if (_connection.IsAvailable)
        {
            try
            {
                await _connection.CallAsync(_connection.Database.SortedSetRemoveAsync(_members, _connection.Options.InstanceId), "rate leave", _options.Name).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // Counted; the heartbeat expires on its own.
            }
        }

        _stopping.Dispose();
    }

    /// <summary>Reserves and gives back permits for the keys in use, once (the loop's step; tests call it directly).</summary>
    internal async Task SyncAsync()
    {
        long window = NowMs() / _windowMs;
        var sent = new List<Sent>();
        bool available = _connection.IsAvailable;
        foreach (KeyValuePair<TKey, Entry> pair in _entries)
        {
            Entry entry = pair.Value;
            lock (entry)
            {
                if (entry.Window < window - 1)
                {
                    // Unused for a whole window: forgotten, so memory follows the keys in use.
                    entry.Removed = true;
                    _entries.TryRemove(pair);
                    continue;
                }

                if (entry.Window != window || !available)
                {
                    continue;
                }

                // Enough for twice the last interval's demand; what is held beyond twice that goes back to the fleet.
                int target = (int)Math.Clamp(2L * entry.Wanted, 1, _options.PermitsPerWindow);
                entry.Wanted = 0;
                int giveBack = entry.Reserved > 2 * target ? entry.Reserved - target : 0;
                int ask = Math.Max(0, target - entry.Reserved);
                int charge = entry.Unreserved - giveBack;
                if (ask == 0 && charge == 0)
                {
                    continue;
                }

                entry.Reserved -= giveBack;
                entry.Unreserved = 0;
                sent.Add(new Sent(entry, charge + giveBack, giveBack, charge, ask));
            }
        }

        if (!available)
        {
            return;
        }

        // In scripts of at most BatchKeys keys, so that one busy window does not hold Redis's single thread for long;
        // one script even with none, as the heartbeat.
        for (int from = 0; from == 0 || from < sent.Count; from += BatchKeys)
        {
            await SyncBatchAsync(window, sent, from, Math.Min(BatchKeys, sent.Count - from)).ConfigureAwait(false);
        }
    }

    private async Task SyncBatchAsync(long window, List<Sent> sent, int from, int count)
    {
        var arguments = new RedisValue[4 + (3 * count)];
        arguments[0] = _connection.Options.InstanceId;
        arguments[1] = _windowMs;
        arguments[2] = _memberTtlMs;
        arguments[3] = _options.PermitsPerWindow;
        for (int i = 0; i < count; i++)
        {
            Sent one = sent[from + i];
            arguments[4 + (3 * i)] = one.Entry.Name;
            arguments[5 + (3 * i)] = one.Charge;
            arguments[6 + (3 * i)] = one.Ask;
        }

        RedisResult[]? reply = null;
        try
        {
            long asked = _time.GetUtcNow().ToUnixTimeMilliseconds();
            reply = (RedisResult[]?)await _connection.CallAsync(
                _connection.Database.ScriptEvaluateAsync(SyncScript, [_windowKeyPrefix + window.ToString(System.Globalization.CultureInfo.InvariantCulture), _members], arguments),
                "rate sync",
                _options.Name).ConfigureAwait(false);
            long received = _time.GetUtcNow().ToUnixTimeMilliseconds();
            TakeClockSample((long)reply![0], asked, received);
            Volatile.Write(ref _instances, Math.Max(1, (int)reply[1]));
        }
        catch (Exception e) when (e is RedisException or TimeoutException or InvalidCastException or NullReferenceException)
        {
            reply = null; // counted and logged once by the connection
        }

        bool answered = reply is not null && reply.Length == 2 + count;
        for (int i = 0; i < count; i++)
        {
            (Entry entry, int spent, int givenBack, _, _) = sent[from + i];
            lock (entry)
            {
                if (entry.Window != window)
                {
                    continue; // a grant for a window that ended is of no use
                }

                if (answered)
                {
                    entry.Reserved += (int)reply![2 + i];
                    entry.Provisional = 0; // the fleet's count is known now
                }
                else
                {
                    // Nothing reached Redis: what was spent is still to charge, what was given back is still held.
                    entry.Unreserved += spent;
                    entry.Reserved += givenBack;
                }
            }
        }
    }

    /// <summary>
    /// Takes Redis's time as the middle of the round trip, from round trips not much slower than the fastest seen (NTP's
    /// rule): a reply delayed by a busy thread pool would put the windows' edges off by half its delay.
    /// </summary>
    private void TakeClockSample(long redisMs, long askedMs, long receivedMs)
    {
        long roundTrip = receivedMs - askedMs;
        if (roundTrip <= Math.Max(10, 2 * _fastestRoundTripMs))
        {
            _fastestRoundTripMs = Math.Min(_fastestRoundTripMs, roundTrip);
            Volatile.Write(ref _offsetMs, redisMs - ((askedMs + receivedMs) / 2));
        }
    }

    /// <summary>Gets the number of the window in force on Redis's clock, as this instance reads it (tests count by it).</summary>
    internal long CurrentWindow => NowMs() / _windowMs;

    private long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds() + Volatile.Read(ref _offsetMs);

    /// <summary>
    /// What an instance may admit of a key before its first reservation of the window lands: its share of one sync
    /// interval's worth; its share of the whole window while Redis is out.
    /// </summary>
    private int ProvisionalShare()
    {
        double share = (double)_options.PermitsPerWindow / Volatile.Read(ref _instances);
        return (int)Math.Ceiling(_connection.IsAvailable ? share / _syncsPerWindow : share);
    }

    private async Task SyncLoopAsync()
    {
        using var timer = new PeriodicTimer(_options.SyncInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                try
                {
                    await SyncAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The loop outlives any one failure: a stopped sync would leave every key at its provisional share.
                    _connection.Options.Logger?.LogWarning("Shared rate limit {Name}: a sync failed ({Error}); the next one retries", _options.Name, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    private readonly record struct Sent(Entry Entry, int Spent, int GivenBack, int Charge, int Ask);

    /// <summary>One key's permits in the current window; guarded by its own lock.</summary>
    private sealed class Entry(string name)
    {
        public string Name { get; } = name;

        public long Window { get; set; } = long.MinValue;

        /// <summary>Gets or sets the permits reserved in Redis and not yet spent.</summary>
        public int Reserved { get; set; }

        /// <summary>Gets or sets the provisional permits spent and not yet charged in Redis.</summary>
        public int Unreserved { get; set; }

        /// <summary>Gets or sets the provisional permits left before the first reservation lands.</summary>
        public int Provisional { get; set; }

        /// <summary>Gets or sets the acquires (admitted or not) since the last sync: the demand.</summary>
        public int Wanted { get; set; }

        public bool Removed { get; set; }
    }
}
