using System.Runtime.CompilerServices;
using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Excludes nodes by health: with <see cref="HealthRequirement.Available"/> (the default) Unhealthy and rate-limited
/// nodes, with <see cref="HealthRequirement.HealthyOnly"/> everything but Healthy nodes that are not rate-limited.
/// </summary>
/// <remarks>
/// A dictionary lookup per candidate per pick would cost more than the pick itself, so the filter caches, per
/// candidate set, the tracker's node handles and the resulting exclusion bits, and reuses them while
/// <see cref="HealthTracker{TId}.Version"/> is unchanged and no rate limit has expired (the clock is read only while
/// some candidate is rate-limited). A steady-state call verifies the cache in O(1) (length and one rotating id, as
/// the snapshot strategies do) and copies the exclusion bits: a few ns for 64 nodes, no allocation. A status change
/// rebuilds the bits (one small allocation); a changed candidate set is noticed within about n picks.
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TId">The node id type.</typeparam>
/// <typeparam name="TAccessor">Reads a candidate's id.</typeparam>
/// <example>
/// <code>
/// var health = new HealthFilter&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;(tracker);
/// Filter.TrySelect(backends, SelectionContext.Empty, health, PowerOfTwoChoices.For&lt;Backend&gt;(), out int index);
/// </code>
/// </example>
public sealed class HealthFilter<TNode, TId, TAccessor> : ICandidateFilter<TNode>
    where TId : notnull, IEquatable<TId>
    where TAccessor : INodeAccessor<TNode, TId>
{
    private readonly HealthTracker<TId> _tracker;
    private readonly HealthRequirement _requirement;
    private Snapshot? _snapshot;

    /// <summary>Creates the filter.</summary>
    /// <param name="tracker">The tracker whose statuses decide.</param>
    /// <param name="requirement">Which nodes pass.</param>
    /// <exception cref="ArgumentNullException"><paramref name="tracker"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="requirement"/> is not a defined value.</exception>
    /// <example><code>var filter = new HealthFilter&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;(tracker, HealthRequirement.HealthyOnly);</code></example>
    public HealthFilter(HealthTracker<TId> tracker, HealthRequirement requirement = HealthRequirement.Available)
    {
        ArgumentNullException.ThrowIfNull(tracker);
        if (!Enum.IsDefined(requirement))
        {
            throw new ArgumentOutOfRangeException(nameof(requirement), requirement, "Use HealthRequirement.Available or HealthRequirement.HealthyOnly.");
        }

        _tracker = tracker;
        _requirement = requirement;
    }

    /// <summary>Gets which nodes pass.</summary>
    /// <example><code>var requirement = filter.Requirement;</code></example>
    public HealthRequirement Requirement => _requirement;

    /// <inheritdoc/>
    public void Apply(ReadOnlySpan<TNode> candidates, in SelectionContext context, CandidateMask mask)
    {
        FilterGuard.EnsureMatches(mask, candidates.Length);
        if (candidates.IsEmpty)
        {
            return;
        }

        Snapshot? snapshot = Volatile.Read(ref _snapshot);
        if (snapshot is null || !snapshot.Bindings.Matches(candidates, _tracker.Epoch))
        {
            snapshot = Refresh(candidates, bindings: null);
        }
        else if (snapshot.Version != _tracker.Version
            || (snapshot.NextExpiry != long.MaxValue && _tracker.Clock.Now() >= snapshot.NextExpiry))
        {
            snapshot = Refresh(candidates, snapshot.Bindings);
        }

        if (snapshot.AnyExcluded)
        {
            ScratchMask.ExcludeBits(mask, snapshot.Excluded);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private Snapshot Refresh(ReadOnlySpan<TNode> candidates, CandidateBindings<TNode, TId, TAccessor, NodeHealth<TId>>? bindings)
    {
        // Read the version before the statuses: a change racing with this refresh leaves the version stale, so the
        // next pick refreshes again rather than trusting bits that missed it.
        long version = _tracker.Version;
        bindings ??= CandidateBindings<TNode, TId, TAccessor, NodeHealth<TId>>.Build(candidates, _tracker);

        long now = _tracker.Clock.Now();
        NodeHealth<TId>[] handles = bindings.Handles;
        var excluded = new ulong[CandidateMask.WordsFor(handles.Length)];
        long nextExpiry = long.MaxValue;
        bool any = false;
        for (int i = 0; i < handles.Length; i++)
        {
            HealthStatus status = handles[i].Status;
            long retryAt = handles[i].RetryAtTicks;
            bool limited = retryAt != 0 && now < retryAt;
            if (limited && retryAt < nextExpiry)
            {
                nextExpiry = retryAt;
            }

            bool passes = !limited && (_requirement == HealthRequirement.Available ? status != HealthStatus.Unhealthy : status == HealthStatus.Healthy);
            if (!passes)
            {
                excluded[i >> 6] |= 1UL << i;
                any = true;
            }
        }

        var snapshot = new Snapshot(bindings, excluded, any, version, nextExpiry);
        Volatile.Write(ref _snapshot, snapshot);
        return snapshot;
    }

    private sealed class Snapshot(CandidateBindings<TNode, TId, TAccessor, NodeHealth<TId>> bindings, ulong[] excluded, bool anyExcluded, long version, long nextExpiry)
    {
        public CandidateBindings<TNode, TId, TAccessor, NodeHealth<TId>> Bindings { get; } = bindings;

        public ulong[] Excluded { get; } = excluded;

        public bool AnyExcluded { get; } = anyExcluded;

        public long Version { get; } = version;

        public long NextExpiry { get; } = nextExpiry;
    }
}
