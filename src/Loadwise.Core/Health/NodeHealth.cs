using System.Runtime.CompilerServices;
using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// One node's live health inside a <see cref="HealthTracker{TId}"/>: a stable handle that callers may keep (for example
/// in their node objects) to read the status with one volatile read, without even the tracker's dictionary lookup.
/// </summary>
/// <remarks>
/// The status is an <c>int</c> written with a volatile write after the policy runs under the node's lock, so readers
/// never lock and never see a torn value. Counters and timestamps are read under the lock by
/// <see cref="HealthTracker{TId}.GetState"/>.
/// </remarks>
/// <typeparam name="TId">The node id type.</typeparam>
/// <example>
/// <code>
/// NodeHealth&lt;string&gt; health = tracker.GetHandle("10.0.0.1:80");
/// if (health.IsAvailable) { /* send */ }
/// </code>
/// </example>
public sealed class NodeHealth<TId>
{
    private readonly TickClock _clock;
    private volatile int _status;
    private long _retryAtTicks;

    internal NodeHealth(TId nodeId, TickClock clock)
    {
        NodeId = nodeId;
        _clock = clock;
    }

    /// <summary>Gets the node's id.</summary>
    /// <example><code>string id = health.NodeId;</code></example>
    public TId NodeId { get; }

    /// <summary>Gets the node's status (one volatile read; never allocates).</summary>
    /// <example><code>HealthStatus status = health.Status;</code></example>
    public HealthStatus Status
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (HealthStatus)_status;
    }

    /// <summary>Gets whether the node is rate-limited now (its retry-after has not yet passed).</summary>
    /// <example><code>if (health.IsRateLimited) { /* wait */ }</code></example>
    public bool IsRateLimited
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            long retryAt = Volatile.Read(ref _retryAtTicks);
            return retryAt != 0 && _clock.Now() < retryAt;
        }
    }

    /// <summary>Gets whether the node may take traffic: not Unhealthy and not rate-limited.</summary>
    /// <example><code>if (health.IsAvailable) { /* send */ }</code></example>
    public bool IsAvailable => _status != (int)HealthStatus.Unhealthy && !IsRateLimited;

    /// <summary>Gets when a rate-limited node becomes available again, or null when it is not rate-limited.</summary>
    /// <example><code>DateTimeOffset? until = health.RetryAt;</code></example>
    public DateTimeOffset? RetryAt
    {
        get
        {
            long retryAt = Volatile.Read(ref _retryAtTicks);
            return retryAt != 0 && _clock.Now() < retryAt ? _clock.ToWallClock(retryAt) : null;
        }
    }

    // Everything below is written under Gate by the tracker.
    internal Lock Gate { get; } = new();

    internal HealthState State { get; private set; }

    internal long StatusSinceTicks { get; set; }

    internal long ProbeAnchorTicks { get; set; }

    /// <summary>The logical clock behind <see cref="NodeState.Version"/>: raised on each persisted change and past every restored version.</summary>
    internal long StateVersion { get; set; }

    internal int Dirty;

    /// <summary>The raw retry-at tick (0 = none), for filters that compare against one clock read per pick.</summary>
    internal long RetryAtTicks => Volatile.Read(ref _retryAtTicks);

    /// <summary>
    /// Whether the policy leaves <see cref="State"/> as it is on a success (a healthy node with nothing to forget), so
    /// that a success can be recorded without the lock: the common case, reported by every request that went well.
    /// Never for Unhealthy, where even an unchanged state restarts the probe interval.
    /// </summary>
    internal volatile bool SuccessKeepsState;

    internal void SetState(HealthState state, IHealthPolicy policy)
    {
        // Cleared before the state changes and set after, so a lock-free reader never skips a success that matters.
        SuccessKeepsState = false;
        State = state;
        _status = (int)state.Status;
        SuccessKeepsState = state.Status != HealthStatus.Unhealthy && policy.Next(state, success: true) == state;
    }

    internal void SetRetryAt(long ticks) => Volatile.Write(ref _retryAtTicks, ticks);

    /// <summary>
    /// Whether an Unhealthy node has gone a full probe interval since it became Unhealthy or since its last outcome;
    /// with <paramref name="claim"/>, a true answer restarts the interval, so that one caller per interval probes.
    /// </summary>
    internal bool IsProbeDue(long intervalTicks, bool claim)
    {
        if (Status != HealthStatus.Unhealthy)
        {
            return false;
        }

        lock (Gate)
        {
            long now = _clock.Now();
            if (Status != HealthStatus.Unhealthy || now - ProbeAnchorTicks < intervalTicks)
            {
                return false;
            }

            if (claim)
            {
                ProbeAnchorTicks = now;
            }

            return true;
        }
    }

    /// <summary>Captures the node's state in the store's serialisable form, consistently (under the node's lock).</summary>
    internal NodeState Capture()
    {
        lock (Gate)
        {
            long now = _clock.Now();
            long retryAt = RetryAtTicks;
            return new NodeState
            {
                Status = State.Status,
                ConsecutiveFailures = State.ConsecutiveFailures,
                ConsecutiveSuccesses = State.ConsecutiveSuccesses,
                StatusSince = _clock.ToWallClock(StatusSinceTicks == 0 ? now : StatusSinceTicks),
                RetryAt = retryAt > now ? _clock.ToWallClock(retryAt) : null,
                UpdatedAt = _clock.ToWallClock(now),
                Version = StateVersion,
            };
        }
    }

    /// <summary>Takes on a stored state (a rate limit only if it has not yet passed); returns the status before.</summary>
    internal HealthStatus Restore(NodeState state, IHealthPolicy policy, out long now)
    {
        lock (Gate)
        {
            now = _clock.Now();
            HealthStatus from = Status;
            SetState(new HealthState(state.Status, state.ConsecutiveFailures, state.ConsecutiveSuccesses), policy);
            StatusSinceTicks = _clock.FromWallClock(state.StatusSince);
            ProbeAnchorTicks = StatusSinceTicks;
            long retryAt = state.RetryAt is { } at ? _clock.FromWallClock(at) : 0;
            SetRetryAt(retryAt > now ? retryAt : 0);
            StateVersion = Math.Max(StateVersion, state.Version);
            return from;
        }
    }
}
