using System.Collections.Concurrent;

namespace Loadwise;

/// <summary>
/// The default <see cref="IStateStore"/>: a thread-safe dictionary in this process. Every call completes synchronously.
/// State survives as long as the store object does (share one between trackers to keep state across tracker rebuilds).
/// </summary>
/// <example>
/// <code>
/// var store = new InMemoryStateStore();
/// var tracker = new HealthTracker&lt;string&gt;(new HealthTrackerOptions { StateStore = store });
/// </code>
/// </example>
public sealed class InMemoryStateStore : IStateStore
{
    private readonly ConcurrentDictionary<string, NodeState> _entries = new(StringComparer.Ordinal);

    /// <summary>Gets the number of stored entries.</summary>
    /// <example><code>int n = store.Count;</code></example>
    public int Count => _entries.Count;

    /// <inheritdoc/>
    public ValueTask<NodeState?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<NodeState?>(_entries.TryGetValue(key, out NodeState? state) ? state : null);
    }

    /// <inheritdoc/>
    public ValueTask PutAsync(string key, NodeState state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(state);
        cancellationToken.ThrowIfCancellationRequested();
        _entries[key] = state;
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<bool> RemoveAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<bool>(_entries.TryRemove(key, out _));
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<StoredNodeState>> ListAsync(string keyPrefix = "", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keyPrefix);
        cancellationToken.ThrowIfCancellationRequested();
        var entries = new List<StoredNodeState>();
        foreach (KeyValuePair<string, NodeState> entry in _entries)
        {
            if (entry.Key.StartsWith(keyPrefix, StringComparison.Ordinal))
            {
                entries.Add(new StoredNodeState(entry.Key, entry.Value));
            }
        }

        return new ValueTask<IReadOnlyList<StoredNodeState>>(entries);
    }
}
