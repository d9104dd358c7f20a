using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Tracks the health of nodes from reported outcomes, through an <see cref="IHealthPolicy"/>. Thread-safe: reports
/// for one node are serialised by that node's lock, and the status lookup used on every pick
/// (<see cref="GetStatus"/>, <see cref="NodeHealth{TId}.Status"/>, <see cref="HealthFilter{TNode, TId, TAccessor}"/>)
/// takes no lock and allocates nothing.
/// </summary>
/// <remarks>
/// <para>A node never reported on is Healthy. Time comes from <see cref="HealthTrackerOptions.TimeProvider"/>.</para>
/// <para>
/// A rate-limited outcome makes the node unavailable until its retry-after has passed; it leaves the health state
/// (and the failure count) alone. <see cref="ShouldProbe"/> turns true once an Unhealthy node has gone one probe
/// interval without an outcome; each further outcome (a failed probe) restarts the interval.
/// </para>
/// <para>
/// Status changes raise <see cref="HealthChanged"/> and the metrics hook (outside the node's lock, so handlers may
/// call back into the tracker; concurrent changes of one node may be delivered out of order, and each event carries
/// both ends of its change). With a <see cref="HealthTrackerOptions.StateStore"/>, a persistence component subscribed
/// to the changes writes changed nodes behind on its own background task; store errors go to
/// <see cref="IMetricsCollector.OnStateStoreError"/> and are never thrown. <see cref="DisposeAsync"/> waits for the
/// queued writes and stops the write-behind.
/// </para>
/// </remarks>
/// <typeparam name="TId">The node id type.</typeparam>
/// <example>
/// <code>
/// var tracker = new HealthTracker&lt;string&gt;();
/// tracker.Report("10.0.0.1:80", Outcome.Failure);
/// tracker.Report("10.0.0.1:80", Outcome.RateLimited(TimeSpan.FromSeconds(30)));
/// bool usable = tracker.IsAvailable("10.0.0.1:80"); // false for 30 s
/// </code>
/// </example>
public sealed class HealthTracker<TId> : IHandleSource<TId, NodeHealth<TId>>, IAsyncDisposable
    where TId : notnull, IEquatable<TId>
{
    private readonly ConcurrentDictionary<TId, NodeHealth<TId>> _nodes = new();
    private readonly TickClock _clock;
    private readonly IHealthPolicy _policy;
    private readonly IMetricsCollector _metrics;
    private readonly HealthStatePersistence<TId>? _persistence;
    private readonly string _keyPrefix;
    private readonly long _defaultRetryAfterTicks;
    private readonly long _probeIntervalTicks;
    private readonly int[] _counts = new int[4];
    private long _version;
    private long _epoch;

    /// <summary>Creates a tracker.</summary>
    /// <param name="options">Settings; null for all defaults.</param>
    /// <exception cref="ArgumentException">A setting is null or out of range; the message names it.</exception>
    /// <example><code>var tracker = new HealthTracker&lt;string&gt;(new HealthTrackerOptions { TimeProvider = fakeTime });</code></example>
    public HealthTracker(HealthTrackerOptions? options = null)
    {
        options ??= new HealthTrackerOptions();
        if (options.Policy is null || options.TimeProvider is null || options.Metrics is null || options.KeyPrefix is null)
        {
            throw new ArgumentException("HealthTrackerOptions.Policy, TimeProvider, Metrics and KeyPrefix must not be null; leave them unset for the defaults.", nameof(options));
        }

        if (options.DefaultRetryAfter < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.DefaultRetryAfter, "HealthTrackerOptions.DefaultRetryAfter must be zero or positive (1 s is the default).");
        }

        if (options.Policy.ProbeInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Policy.ProbeInterval, "The policy's ProbeInterval must be more than zero.");
        }

        _clock = new TickClock(options.TimeProvider);
        _policy = options.Policy;
        _metrics = options.Metrics;
        _keyPrefix = options.KeyPrefix;
        _defaultRetryAfterTicks = options.DefaultRetryAfter.Ticks;
        _probeIntervalTicks = _policy.ProbeInterval.Ticks;
        if (options.StateStore is { } store)
        {
            _persistence = new HealthStatePersistence<TId>(this, store, _metrics);
        }
    }

    /// <summary>Raised after a node's status changes (not for rate limiting, which is not a status).</summary>
    /// <example><code>tracker.HealthChanged += (_, e) => Console.WriteLine($"{e.NodeId}: {e.From} -> {e.To}");</code></example>
    public event EventHandler<HealthChangedEventArgs<TId>>? HealthChanged;

    /// <summary>Gets the health policy.</summary>
    /// <example><code>TimeSpan every = tracker.Policy.ProbeInterval;</code></example>
    public IHealthPolicy Policy => _policy;

    /// <summary>
    /// Gets a number that changes whenever any node's status or rate limit changes, so that filters can cache what
    /// they derived from the statuses and recompute only when it moves.
    /// </summary>
    /// <example><code>long seen = tracker.Version;</code></example>
    public long Version => Volatile.Read(ref _version);

    long IHandleSource<TId, NodeHealth<TId>>.Epoch => Epoch;

    internal long Epoch => Volatile.Read(ref _epoch);

    internal TickClock Clock => _clock;

    internal string KeyPrefix => _keyPrefix;

    internal ICollection<NodeHealth<TId>> Nodes => _nodes.Values;

    /// <summary>Raised for every change worth persisting: a status change (not one applied from the store) or a rate limit.</summary>
    internal event Action<NodeHealth<TId>>? StateChanged;

    /// <summary>Returns a node's status without locking or allocating; a node never seen is Healthy.</summary>
    /// <param name="nodeId">The node.</param>
    /// <returns>The status.</returns>
    /// <example><code>if (tracker.GetStatus(id) == HealthStatus.Unhealthy) { /* skip */ }</code></example>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public HealthStatus GetStatus(TId nodeId) =>
        _nodes.TryGetValue(nodeId, out NodeHealth<TId>? node) ? node.Status : HealthStatus.Healthy;

    /// <summary>Returns whether a node may take traffic: not Unhealthy and not rate-limited.</summary>
    /// <param name="nodeId">The node.</param>
    /// <returns>True when available (always for a node never seen).</returns>
    /// <example><code>bool ok = tracker.IsAvailable(id);</code></example>
    public bool IsAvailable(TId nodeId) => !_nodes.TryGetValue(nodeId, out NodeHealth<TId>? node) || node.IsAvailable;

    /// <summary>Returns the node's handle, creating a Healthy entry for a node never seen.</summary>
    /// <param name="nodeId">The node.</param>
    /// <returns>The node's stable handle (the same object until <see cref="Remove"/>).</returns>
    /// <example><code>NodeHealth&lt;string&gt; health = tracker.GetHandle(id);</code></example>
    public NodeHealth<TId> GetHandle(TId nodeId)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        return _nodes.TryGetValue(nodeId, out NodeHealth<TId>? node) ? node : AddNode(nodeId);
    }

    /// <summary>Returns a consistent copy of a node's policy state (status and counters).</summary>
    /// <param name="nodeId">The node.</param>
    /// <returns>The state; <see cref="HealthState.Initial"/> for a node never seen.</returns>
    /// <example><code>int failures = tracker.GetState(id).ConsecutiveFailures;</code></example>
    public HealthState GetState(TId nodeId)
    {
        if (!_nodes.TryGetValue(nodeId, out NodeHealth<TId>? node))
        {
            return HealthState.Initial;
        }

        lock (node.Gate)
        {
            return node.State;
        }
    }

    /// <summary>Reports the outcome of a request to a node.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="outcome">What happened.</param>
    /// <example><code>tracker.Report(id, Outcome.Success);</code></example>
    public void Report(TId nodeId, Outcome outcome)
    {
        NodeHealth<TId> node = GetHandle(nodeId);
        if (outcome.Kind == OutcomeKind.RateLimited)
        {
            long wait = outcome.RetryAfter?.Ticks ?? _defaultRetryAfterTicks;
            lock (node.Gate)
            {
                long retryAt = _clock.Now() + wait;
                node.SetRetryAt(retryAt == 0 ? 1 : retryAt);
                node.StateVersion++;
            }

            Interlocked.Increment(ref _version);
            StateChanged?.Invoke(node);
            return;
        }

        if (outcome.Kind == OutcomeKind.Success && node.SuccessKeepsState)
        {
            // The policy says a success changes nothing here: no lock, no clock read, nothing to publish.
            return;
        }

        HealthStatus from;
        HealthStatus to;
        long now;
        lock (node.Gate)
        {
            now = _clock.Now();
            HealthState before = node.State;
            HealthState after = _policy.Next(before, outcome.Kind == OutcomeKind.Success);
            node.SetState(after, _policy);
            from = before.Status;
            to = after.Status;
            if (from != to)
            {
                node.StatusSinceTicks = now;
                node.StateVersion++;
            }

            if (to == HealthStatus.Unhealthy)
            {
                // Entering Unhealthy, or a failed probe: the next probe is one interval from now.
                node.ProbeAnchorTicks = now;
            }
        }

        if (from != to)
        {
            OnStatusChanged(node, from, to, now);
        }
    }

    /// <summary>Reports a success.</summary>
    /// <param name="nodeId">The node.</param>
    /// <example><code>tracker.ReportSuccess(id);</code></example>
    public void ReportSuccess(TId nodeId) => Report(nodeId, Outcome.Success);

    /// <summary>Reports a failure.</summary>
    /// <param name="nodeId">The node.</param>
    /// <example><code>tracker.ReportFailure(id);</code></example>
    public void ReportFailure(TId nodeId) => Report(nodeId, Outcome.Failure);

    /// <summary>Reports a rate-limited response: the node is unavailable until <paramref name="retryAfter"/> has passed.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="retryAfter">How long to leave it alone; null for <see cref="HealthTrackerOptions.DefaultRetryAfter"/>.</param>
    /// <example><code>tracker.ReportRateLimited(id, TimeSpan.FromSeconds(20));</code></example>
    public void ReportRateLimited(TId nodeId, TimeSpan? retryAfter = null) => Report(nodeId, Outcome.RateLimited(retryAfter));

    /// <summary>
    /// Returns whether an Unhealthy node is due for a probe: true once a full probe interval has passed since it became
    /// Unhealthy or since its last outcome. False for every other status and for nodes never seen.
    /// </summary>
    /// <param name="nodeId">The node.</param>
    /// <returns>True when a probe should be sent; report its outcome with <see cref="Report"/>.</returns>
    /// <example><code>foreach (var id in ids) if (tracker.ShouldProbe(id)) _ = ProbeAsync(id);</code></example>
    public bool ShouldProbe(TId nodeId) =>
        _nodes.TryGetValue(nodeId, out NodeHealth<TId>? node) && node.IsProbeDue(_probeIntervalTicks, claim: false);

    /// <summary>
    /// Like <see cref="ShouldProbe"/>, but claims the probe: when it returns true the interval restarts, so that of
    /// several callers (threads or timers) only one probes per interval.
    /// </summary>
    /// <param name="nodeId">The node.</param>
    /// <returns>True when this caller should send the probe.</returns>
    /// <example><code>if (tracker.TryBeginProbe(id)) tracker.Report(id, await ProbeAsync(id));</code></example>
    public bool TryBeginProbe(TId nodeId) =>
        _nodes.TryGetValue(nodeId, out NodeHealth<TId>? node) && node.IsProbeDue(_probeIntervalTicks, claim: true);

    /// <summary>Forgets a node (for example when it leaves the pool). Its handle is detached; a later report starts afresh.</summary>
    /// <param name="nodeId">The node.</param>
    /// <returns>True when the node was known.</returns>
    /// <example><code>tracker.Remove(id);</code></example>
    public bool Remove(TId nodeId)
    {
        if (!_nodes.TryRemove(nodeId, out NodeHealth<TId>? node))
        {
            return false;
        }

        lock (node.Gate)
        {
            Interlocked.Decrement(ref _counts[(int)node.Status]);
        }

        Interlocked.Increment(ref _epoch);
        Interlocked.Increment(ref _version);
        return true;
    }

    /// <summary>Counts the known nodes in each status (nodes never seen are not counted).</summary>
    /// <returns>The counts.</returns>
    /// <example><code>int down = tracker.CountByStatus().Unhealthy;</code></example>
    public HealthStatusCounts CountByStatus() => new(
        Volatile.Read(ref _counts[0]),
        Volatile.Read(ref _counts[1]),
        Volatile.Read(ref _counts[2]),
        Volatile.Read(ref _counts[3]));

    /// <summary>Returns the ids of every known node.</summary>
    /// <returns>A new list (this allocates; not for the pick path).</returns>
    /// <example><code>foreach (var id in tracker.GetNodeIds()) Console.WriteLine(id);</code></example>
    public IReadOnlyList<TId> GetNodeIds() => [.. _nodes.Keys];

    /// <summary>Returns the store key for a node: <see cref="HealthTrackerOptions.KeyPrefix"/> followed by the id.</summary>
    /// <param name="nodeId">The node.</param>
    /// <returns>The key.</returns>
    /// <example><code>string key = tracker.GetStoreKey("10.0.0.1:80"); // "loadwise:health:10.0.0.1:80"</code></example>
    public string GetStoreKey(TId nodeId) => _keyPrefix + nodeId.ToString();

    /// <summary>Captures a node's state in the store's serialisable form.</summary>
    /// <param name="nodeId">The node.</param>
    /// <returns>The state (Healthy with no counts for a node never seen).</returns>
    /// <example><code>NodeState state = tracker.CaptureState(id);</code></example>
    public NodeState CaptureState(TId nodeId) => GetHandle(nodeId).Capture();

    /// <summary>
    /// Writes every known node's state to the configured store now. Unlike the write-behind, this is an explicit call,
    /// so store errors are thrown to the caller.
    /// </summary>
    /// <param name="cancellationToken">Cancels the save.</param>
    /// <returns>The number of nodes written.</returns>
    /// <exception cref="InvalidOperationException">No <see cref="HealthTrackerOptions.StateStore"/> is configured.</exception>
    /// <example><code>await tracker.SaveAsync();</code></example>
    public ValueTask<int> SaveAsync(CancellationToken cancellationToken = default) => RequirePersistence().SaveAsync(cancellationToken);

    /// <summary>
    /// Reads the given nodes' state from the configured store and applies it (raising <see cref="HealthChanged"/> where
    /// a status changes). Nodes with no stored state are left as they are. Store errors are thrown to the caller.
    /// </summary>
    /// <param name="nodeIds">The nodes to load, usually the pool's configured nodes.</param>
    /// <param name="cancellationToken">Cancels the load.</param>
    /// <returns>The number of nodes that had stored state.</returns>
    /// <exception cref="InvalidOperationException">No <see cref="HealthTrackerOptions.StateStore"/> is configured.</exception>
    /// <example><code>await tracker.LoadAsync(["10.0.0.1:80", "10.0.0.2:80"]);</code></example>
    public ValueTask<int> LoadAsync(IEnumerable<TId> nodeIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(nodeIds);
        return RequirePersistence().LoadAsync(nodeIds, cancellationToken);
    }

    /// <summary>Applies a stored state to a node (as <see cref="LoadAsync"/> does for each node it finds).</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="state">The state to apply.</param>
    /// <exception cref="ArgumentOutOfRangeException">The state holds an undefined status or negative counters.</exception>
    /// <example><code>tracker.Apply(id, new NodeState { Status = HealthStatus.Unhealthy, ConsecutiveFailures = 3 });</code></example>
    public void Apply(TId nodeId, NodeState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!Enum.IsDefined(state.Status) || state.ConsecutiveFailures < 0 || state.ConsecutiveSuccesses < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(state), state, "A stored node state needs a defined Status and non-negative counters.");
        }

        NodeHealth<TId> node = GetHandle(nodeId);
        HealthStatus from = node.Restore(state, _policy, out long now);
        Interlocked.Increment(ref _version);
        if (from != state.Status)
        {
            OnStatusChanged(node, from, state.Status, now, persist: false);
        }
    }

    /// <summary>Waits until every write-behind queued so far has been attempted (errors were reported, not thrown).</summary>
    /// <returns>A task that completes when the queue is empty (at once without a store).</returns>
    /// <example><code>await tracker.FlushAsync(); // e.g. before reading the store in a test</code></example>
    public Task FlushAsync() => _persistence?.FlushAsync() ?? Task.CompletedTask;

    /// <summary>
    /// Stops the write-behind to the <see cref="HealthTrackerOptions.StateStore"/> once what is queued has been written;
    /// later changes are no longer written. The tracker itself keeps working. Does nothing without a store.
    /// </summary>
    /// <returns>A task that completes when the queued writes have been attempted.</returns>
    /// <example><code>await using var tracker = new HealthTracker&lt;string&gt;(new HealthTrackerOptions { StateStore = store });</code></example>
    public ValueTask DisposeAsync() => _persistence?.DisposeAsync() ?? ValueTask.CompletedTask;

    NodeHealth<TId> IHandleSource<TId, NodeHealth<TId>>.GetHandle(TId id) => GetHandle(id);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private NodeHealth<TId> AddNode(TId nodeId)
    {
        var created = new NodeHealth<TId>(nodeId, _clock);
        NodeHealth<TId> node = _nodes.GetOrAdd(nodeId, created);
        if (ReferenceEquals(node, created))
        {
            Interlocked.Increment(ref _counts[(int)HealthStatus.Healthy]);
        }

        return node;
    }

    private void OnStatusChanged(NodeHealth<TId> node, HealthStatus from, HealthStatus to, long now, bool persist = true)
    {
        Interlocked.Decrement(ref _counts[(int)from]);
        Interlocked.Increment(ref _counts[(int)to]);
        Interlocked.Increment(ref _version);
        _metrics.OnHealthChanged(node.NodeId, from, to);
        HealthChanged?.Invoke(this, new HealthChangedEventArgs<TId>(node.NodeId, from, to, _clock.ToWallClock(now)));
        if (persist)
        {
            StateChanged?.Invoke(node);
        }
    }

    private HealthStatePersistence<TId> RequirePersistence() =>
        _persistence ?? throw new InvalidOperationException("This tracker has no state store; set HealthTrackerOptions.StateStore (for example new InMemoryStateStore()).");
}
