namespace Loadwise;

/// <summary>
/// Stores per-node state (health today) under string keys, so that it survives restarts and, with a network store,
/// is shared by several proxy instances. Every member is asynchronous (<see cref="ValueTask"/>): an in-memory store
/// completes synchronously, a network store (Redis) does I/O.
/// </summary>
/// <remarks>
/// The pick path never awaits a store. <see cref="HealthTracker{TId}"/> writes behind on a background task and reports
/// store errors to <see cref="IMetricsCollector.OnStateStoreError"/>, so an implementation may throw freely.
/// Implementations must be thread-safe. Values are small (<see cref="NodeState"/>, a handful of fields) and can be
/// serialised with a source-generated JSON context.
/// </remarks>
/// <example>
/// <code>
/// IStateStore store = new InMemoryStateStore();
/// await store.PutAsync("pool-a:health:10.0.0.1:80", new NodeState { Status = HealthStatus.Unhealthy });
/// NodeState? state = await store.GetAsync("pool-a:health:10.0.0.1:80");
/// </code>
/// </example>
public interface IStateStore
{
    /// <summary>Reads the state stored under <paramref name="key"/>.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The state, or null when none is stored.</returns>
    /// <example><code>NodeState? state = await store.GetAsync(key);</code></example>
    ValueTask<NodeState?> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Stores <paramref name="state"/> under <paramref name="key"/>, replacing what was there.</summary>
    /// <param name="key">The key.</param>
    /// <param name="state">The state.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the write is done.</returns>
    /// <example><code>await store.PutAsync(key, state);</code></example>
    ValueTask PutAsync(string key, NodeState state, CancellationToken cancellationToken = default);

    /// <summary>Removes the state stored under <paramref name="key"/>.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the removal.</param>
    /// <returns>True when something was removed.</returns>
    /// <example><code>bool removed = await store.RemoveAsync(key);</code></example>
    ValueTask<bool> RemoveAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Lists the stored entries whose key starts with <paramref name="keyPrefix"/> (ordinal).</summary>
    /// <param name="keyPrefix">The prefix; empty for everything.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The entries, in no particular order.</returns>
    /// <example><code>foreach (var entry in await store.ListAsync("pool-a:")) Console.WriteLine(entry.Key);</code></example>
    ValueTask<IReadOnlyList<StoredNodeState>> ListAsync(string keyPrefix = "", CancellationToken cancellationToken = default);
}

/// <summary>One entry of <see cref="IStateStore.ListAsync"/>.</summary>
/// <param name="Key">The key.</param>
/// <param name="State">The stored state.</param>
/// <example><code>var (key, state) = entry;</code></example>
public readonly record struct StoredNodeState(string Key, NodeState State);

/// <summary>
/// The per-node state a <see cref="IStateStore"/> keeps: small, immutable and serialisable (plain properties, wall-clock
/// times in UTC), so a network store can hold it as JSON or a hash.
/// </summary>
/// <example>
/// <code>
/// var state = new NodeState { Status = HealthStatus.Unhealthy, ConsecutiveFailures = 3, StatusSince = DateTimeOffset.UtcNow };
/// </code>
/// </example>
public sealed record NodeState
{
    /// <summary>Gets the node's health status.</summary>
    /// <example><code>var status = state.Status;</code></example>
    public HealthStatus Status { get; init; }

    /// <summary>Gets the node's consecutive failures.</summary>
    /// <example><code>int failures = state.ConsecutiveFailures;</code></example>
    public int ConsecutiveFailures { get; init; }

    /// <summary>Gets the node's consecutive successes (towards leaving Recovering).</summary>
    /// <example><code>int successes = state.ConsecutiveSuccesses;</code></example>
    public int ConsecutiveSuccesses { get; init; }

    /// <summary>Gets when the node entered <see cref="Status"/>.</summary>
    /// <example><code>TimeSpan down = DateTimeOffset.UtcNow - state.StatusSince;</code></example>
    public DateTimeOffset StatusSince { get; init; }

    /// <summary>Gets when a rate-limited node becomes available again, or null when it is not rate-limited.</summary>
    /// <example><code>bool limited = state.RetryAt &gt; DateTimeOffset.UtcNow;</code></example>
    public DateTimeOffset? RetryAt { get; init; }

    /// <summary>Gets when this state was captured (the merge's second key, after <see cref="Version"/>).</summary>
    /// <example><code>var at = state.UpdatedAt;</code></example>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>
    /// Gets the state's version: a logical clock the node's tracker raises on each status or rate-limit change and
    /// raises past every version it takes on from a store, so a change made after seeing a state always has a higher
    /// version than it, whatever the writers' wall clocks say. 0 for a state written without one.
    /// </summary>
    /// <example><code>long version = state.Version;</code></example>
    public long Version { get; init; }

    /// <summary>Gets who wrote the state (an instance id; the merge's last key); empty when unknown.</summary>
    /// <example><code>string writer = state.Writer;</code></example>
    public string Writer { get; init; } = "";

    /// <summary>
    /// Returns whether this state should replace <paramref name="current"/> in a shared store. The merge rule: the
    /// higher <see cref="Version"/> wins; on equal versions (two writers changing the node without having seen each
    /// other) the later <see cref="UpdatedAt"/> wins; on equal times the ordinally greater <see cref="Writer"/> wins. The
    /// order is total, so every instance that sees the same two states keeps the same one, and a late write of an older
    /// state never undoes a newer one.
    /// </summary>
    /// <param name="current">The stored state, or null when none is stored.</param>
    /// <returns>True when this state is newer (always when <paramref name="current"/> is null).</returns>
    /// <example><code>if (incoming.Supersedes(stored)) stored = incoming;</code></example>
    public bool Supersedes(NodeState? current)
    {
        if (current is null)
        {
            return true;
        }

        if (Version != current.Version)
        {
            return Version > current.Version;
        }

        int byTime = UpdatedAt.CompareTo(current.UpdatedAt);
        return byTime != 0 ? byTime > 0 : string.CompareOrdinal(Writer, current.Writer) > 0;
    }
}
