using System.Collections.Concurrent;

namespace Loadwise;

/// <summary>
/// Keeps a <see cref="HealthTracker{TId}"/>'s node states in an <see cref="IStateStore"/>: it subscribes to the
/// tracker's state changes (status changes and rate limits) and writes the changed nodes behind on one background task,
/// which it owns; and it saves and loads every node on request. The tracker creates one when
/// <see cref="HealthTrackerOptions.StateStore"/> is set, and exposes it through its own SaveAsync, LoadAsync,
/// FlushAsync and DisposeAsync.
/// </summary>
/// <remarks>
/// The write-behind never blocks a report or a pick: a change marks the node dirty (once, however often it changes
/// before it is written) and the background task writes each dirty node with its state at that moment. Store errors
/// go to <see cref="IMetricsCollector.OnStateStoreError"/> and are never thrown; explicit saves and loads throw them to
/// their caller. Disposing stops listening and waits for what is queued.
/// </remarks>
internal sealed class HealthStatePersistence<TId> : IAsyncDisposable
    where TId : notnull, IEquatable<TId>
{
    private readonly HealthTracker<TId> _tracker;
    private readonly IStateStore _store;
    private readonly IMetricsCollector _metrics;
    private readonly ConcurrentQueue<NodeHealth<TId>> _dirty = new();
    private readonly Lock _gate = new();
    private Task _writeBehind = Task.CompletedTask;
    private bool _writing;
    private bool _disposed;

    public HealthStatePersistence(HealthTracker<TId> tracker, IStateStore store, IMetricsCollector metrics)
    {
        _tracker = tracker;
        _store = store;
        _metrics = metrics;
        tracker.StateChanged += OnStateChanged;
    }

    /// <summary>Writes every known node's state now; store errors are thrown.</summary>
    public async ValueTask<int> SaveAsync(CancellationToken cancellationToken)
    {
        int written = 0;
        foreach (NodeHealth<TId> node in _tracker.Nodes)
        {
            await _store.PutAsync(_tracker.GetStoreKey(node.NodeId), node.Capture(), cancellationToken).ConfigureAwait(false);
            written++;
        }

        return written;
    }

    /// <summary>Reads the given nodes' states and applies those found; store errors are thrown.</summary>
    public async ValueTask<int> LoadAsync(IEnumerable<TId> nodeIds, CancellationToken cancellationToken)
    {
        int loaded = 0;
        foreach (TId nodeId in nodeIds)
        {
            NodeState? state = await _store.GetAsync(_tracker.GetStoreKey(nodeId), cancellationToken).ConfigureAwait(false);
            if (state is not null)
            {
                _tracker.Apply(nodeId, state);
                loaded++;
            }
        }

        return loaded;
    }

    /// <summary>Waits until every write queued so far has been attempted.</summary>
    public async Task FlushAsync()
    {
        while (true)
        {
            Task pending;
            lock (_gate)
            {
                if (!_writing && _dirty.IsEmpty)
                {
                    return;
                }

                pending = _writeBehind;
            }

            await pending.ConfigureAwait(false);
            await Task.Yield();
        }
    }

    /// <summary>Stops listening to the tracker, then waits for the writes already queued.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _tracker.StateChanged -= OnStateChanged;
        await FlushAsync().ConfigureAwait(false);
    }

    private void OnStateChanged(NodeHealth<TId> node)
    {
        // Queued and started under one lock, so that nothing is queued after disposal with no task left to write it.
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            if (Interlocked.Exchange(ref node.Dirty, 1) == 0)
            {
                _dirty.Enqueue(node);
            }

            if (!_writing)
            {
                _writing = true;
                _writeBehind = Task.Run(WriteBehindAsync);
            }
        }
    }

    // One background task drains the dirty queue; each node is written with its latest state.
    private async Task WriteBehindAsync()
    {
        while (true)
        {
            if (!_dirty.TryDequeue(out NodeHealth<TId>? node))
            {
                lock (_gate)
                {
                    if (_dirty.IsEmpty)
                    {
                        _writing = false;
                        return;
                    }
                }

                continue;
            }

            Volatile.Write(ref node.Dirty, 0);
            string key = _tracker.KeyPrefix;
            try
            {
                key = _tracker.GetStoreKey(node.NodeId);
                await _store.PutAsync(key, node.Capture(), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                ReportStoreError("put", key, exception);
            }
        }
    }

    private void ReportStoreError(string operation, string key, Exception exception)
    {
        try
        {
            _metrics.OnStateStoreError(operation, key, exception);
        }
        catch (Exception)
        {
            // A failing hook must not stop the write-behind; there is nowhere further to report to.
        }
    }
}
