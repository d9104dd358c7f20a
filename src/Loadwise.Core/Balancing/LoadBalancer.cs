using System.Collections.ObjectModel;
using System.Runtime.CompilerServices;

namespace Loadwise;

/// <summary>Starts a <see cref="LoadBalancerBuilder{TNode}"/>, and names the balancers' metrics.</summary>
/// <example>
/// <code>
/// LoadBalancer&lt;Backend&gt; balancer = LoadBalancer.For&lt;Backend&gt;()
///     .UsePowerOfTwoChoices()
///     .WithHealth()
///     .Build(backends);
/// </code>
/// </example>
public static class LoadBalancer
{
    /// <summary>The meter name of every balancer's instruments, <c>"Loadwise"</c>.</summary>
    public const string MeterName = "Loadwise";

    /// <summary>The picks counter: tags <c>balancer</c>, <c>strategy</c> and <c>result</c> (<c>picked</c> or <c>none_available</c>).</summary>
    public const string PicksInstrument = "loadwise.balancer.picks";

    /// <summary>The released-leases counter: tags <c>balancer</c> and <c>outcome</c> (<c>success</c>, <c>failure</c>, <c>rate_limited</c>, <c>unreported</c>).</summary>
    public const string OutcomesInstrument = "loadwise.balancer.outcomes";

    /// <summary>Starts building a balancer over <typeparamref name="TNode"/>.</summary>
    /// <typeparam name="TNode">The node type: any type; its capability interfaces (generated or written by hand) are used when present.</typeparam>
    /// <returns>A builder with round robin and no filters.</returns>
    /// <example><code>var builder = LoadBalancer.For&lt;Uri&gt;().UseLeastLoad();</code></example>
    public static LoadBalancerBuilder<TNode> For<TNode>() => new();
}

/// <summary>
/// A whole pick in one object: the strategy chosen by name, the health, quota and predicate filters, in-flight
/// counting, outcome reporting and metrics, over an explicit immutable snapshot of nodes.
/// </summary>
/// <remarks>
/// <para>
/// <b>Snapshots.</b> <see cref="Update"/> installs a new node set at once, as gRPC's picker does: the next pick sees
/// exactly that set. Each snapshot gets its own strategy and filter instances, so no per-set cache is ever consulted
/// for another set. A node that stays keeps its in-flight count and health across updates, and a lease taken before
/// an update is released against the same counter.
/// </para>
/// <para>
/// <b>Capabilities.</b> Identity comes from <see cref="INode{TId}"/> of <see cref="string"/> (or the node itself for
/// strings, or <see cref="LoadBalancerBuilder{TNode}.IdentifiedBy"/>), weight from <see cref="IWeighted"/> (otherwise
/// 1). Load comes from <see cref="ILoadMetric"/> when the type has it and from the in-flight count otherwise; the
/// remaining ratio from the quota tracker, then <see cref="IRemainingCapacity"/>, then <c>1 / (1 + in-flight)</c>.
/// Types annotated for the source generator implement these interfaces through their generated accessor. A struct
/// node's values are read when its snapshot is installed; a class node's load and ratio on every pick.
/// </para>
/// <para>
/// <b>Cost.</b> A pick is one strategy call through an interface plus the filters, and allocates nothing; a lease is a
/// struct. Thread-safe: picks and releases take no lock; updates are serialised.
/// </para>
/// </remarks>
/// <typeparam name="TNode">The node type.</typeparam>
/// <example>
/// <code>
/// var balancer = LoadBalancer.For&lt;string&gt;().UseLeastLoad().WithHealth().Build(["10.0.0.1:80", "10.0.0.2:80"]);
/// if (balancer.TryAcquire(SelectionContext.Empty, out NodeLease&lt;string&gt; lease))
/// {
///     bool ok = await SendAsync(lease.Node);
///     lease.Dispose(ok ? Outcome.Success : Outcome.Failure);
/// }
/// balancer.Update(["10.0.0.2:80", "10.0.0.3:80"]); // the next pick sees exactly these
/// </code>
/// </example>
public sealed class LoadBalancer<TNode>
{
    private const int MaxQuotaRaces = 4;

    private readonly StrategySettings _strategy;
    private readonly HealthTracker<string>? _health;
    private readonly bool _ownsHealth;
    private readonly HealthRequirement _requirement;
    private readonly QuotaTracker<string>? _quotas;
    private readonly Func<TNode, bool>[] _predicates;
    private readonly Func<TNode, string> _idOf;
    private readonly BalancerMetrics _metrics;
    private readonly Lock _updateGate = new();
    private Dictionary<string, NodeEntry> _entries = new(StringComparer.Ordinal);
    private Snapshot _snapshot;

    internal LoadBalancer(string name, StrategySettings strategy, HealthTracker<string>? health, bool ownsHealth, HealthRequirement requirement, QuotaTracker<string>? quotas, Func<TNode, bool>[] predicates, Func<TNode, string> idOf, BalancerMetrics metrics)
    {
        Name = name;
        StrategyName = StrategyRegistry.Canonical(strategy.Name!);
        _strategy = strategy;
        _health = health;
        _ownsHealth = ownsHealth;
        _requirement = requirement;
        _quotas = quotas;
        _predicates = predicates;
        _idOf = idOf;
        _metrics = metrics;
        _snapshot = CreateSnapshot([], [], version: 0);
    }

    /// <summary>Gets the balancer's name (its <c>balancer</c> metric tag).</summary>
    /// <example><code>Console.WriteLine(balancer.Name);</code></example>
    public string Name { get; }

    /// <summary>Gets the canonical name of the strategy.</summary>
    /// <example><code>string strategy = balancer.StrategyName; // "PowerOfTwoChoices"</code></example>
    public string StrategyName { get; }

    /// <summary>Gets the health tracker outcomes are reported to, or null when health is not tracked.</summary>
    /// <example><code>HealthStatus status = balancer.Health!.GetStatus(lease.NodeId);</code></example>
    public HealthTracker<string>? Health => _health;

    /// <summary>Gets the quota tracker charged at pick time, or null without quotas.</summary>
    /// <example><code>double left = balancer.Quotas!.GetRemainingRatio("openai");</code></example>
    public QuotaTracker<string>? Quotas => _quotas;

    /// <summary>Gets the nodes of the current snapshot, in the order given to <see cref="Update"/>.</summary>
    /// <example><code>int count = balancer.Nodes.Count;</code></example>
    public IReadOnlyList<TNode> Nodes => Volatile.Read(ref _snapshot).Nodes;

    /// <summary>Gets how many snapshots have been installed (0 before the first <see cref="Update"/>).</summary>
    /// <example><code>long seen = balancer.Version;</code></example>
    public long Version => Volatile.Read(ref _snapshot).Version;

    /// <summary>
    /// Installs a new node set. The next pick sees exactly this set; leases already taken stay valid and are released
    /// against their node's counters. Nodes that left are forgotten by the balancer's own health tracker.
    /// </summary>
    /// <param name="nodes">The nodes; each needs a distinct, non-null identity.</param>
    /// <exception cref="ArgumentException">A node is null or two share an identity; the message names it.</exception>
    /// <example><code>balancer.Update(discovered.Select(e => new Backend(e.Address)));</code></example>
    public void Update(IEnumerable<TNode> nodes)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        TNode[] array = [.. nodes];
        lock (_updateGate)
        {
            var entries = new Dictionary<string, NodeEntry>(array.Length, StringComparer.Ordinal);
            var slots = new BalancerSlot<TNode>[array.Length];
            for (int i = 0; i < array.Length; i++)
            {
                TNode node = array[i] ?? throw new ArgumentException($"Node {i} is null; pass only non-null nodes.", nameof(nodes));
                string id = _idOf(node) ?? throw new ArgumentException($"Node {i} has a null identity; give every node an identity.", nameof(nodes));
                if (entries.ContainsKey(id))
                {
                    throw new ArgumentException($"Two nodes have the identity '{id}'; give each node a distinct identity.", nameof(nodes));
                }

                NodeEntry entry = _entries.TryGetValue(id, out NodeEntry? existing) ? existing : new NodeEntry(id);
                entry.Weight = NodeShape<TNode>.Weight(node);
                entry.LoadSource = NodeShape<TNode>.Load;
                entry.RatioSource = NodeShape<TNode>.Ratio;
                entry.SnapshotLoad = entry.LoadSource == CapabilitySource.Snapshot ? NodeShape<TNode>.SnapshotLoad(node) : 0;
                entry.SnapshotRatio = entry.RatioSource == CapabilitySource.Snapshot ? NodeShape<TNode>.SnapshotRatio(node) : 1;
                entry.Quota = _quotas?.GetHandle(id);

                // The tracker learns every node of the snapshot, so that a shared tracker (Redis) takes on other
                // instances' news about nodes this instance has not called yet.
                _health?.GetHandle(id);
                entries.Add(id, entry);
                slots[i] = new BalancerSlot<TNode>(node, entry);
            }

            if (_ownsHealth)
            {
                foreach (string gone in _entries.Keys)
                {
                    if (!entries.ContainsKey(gone))
                    {
                        _health!.Remove(gone);
                    }
                }
            }

            _entries = entries;
            Volatile.Write(ref _snapshot, CreateSnapshot(slots, array, _snapshot.Version + 1));
        }
    }

    /// <summary>Picks a node and holds it: the node counts the request in flight until the lease is released.</summary>
    /// <param name="context">The pick's hash key, estimated cost (charged to quotas), mask (for example nodes already tried) and tags.</param>
    /// <param name="lease">The lease when a node was picked; default otherwise.</param>
    /// <returns>True when a node was picked; false when none is available (empty set, all filtered or masked).</returns>
    /// <exception cref="ArgumentException">The context's mask covers a different number of nodes than <see cref="Nodes"/>.</exception>
    /// <example>
    /// <code>
    /// var context = new SelectionContext { HashKey = StableHash.Hash(roomId), EstimatedCost = tokens };
    /// if (!balancer.TryAcquire(in context, out var lease)) return Results.StatusCode(503);
    /// </code>
    /// </example>
    public bool TryAcquire(in SelectionContext context, out NodeLease<TNode> lease) =>
        TryAcquire(Volatile.Read(ref _snapshot), in context, out lease);

    /// <summary>
    /// Picks a node other than the ones named, and holds it: for a retry that must go elsewhere. The exclusions are
    /// matched against the snapshot the pick is made from, so an <see cref="Update"/> in between cannot misplace them.
    /// </summary>
    /// <param name="context">The pick's context; a mask in it must not be set (the exclusions make the mask).</param>
    /// <param name="excludedIds">Identities of nodes not to pick (for example the ones that already failed this request).</param>
    /// <param name="lease">The lease when a node was picked; default otherwise.</param>
    /// <returns>True when a node was picked.</returns>
    /// <exception cref="ArgumentException">The context carries a mask.</exception>
    /// <example><code>bool again = balancer.TryAcquire(SelectionContext.Empty, [failed.NodeId], out var retry);</code></example>
    [SkipLocalsInit]
    public bool TryAcquire(in SelectionContext context, ReadOnlySpan<string> excludedIds, out NodeLease<TNode> lease)
    {
        if (context.HasMask)
        {
            throw new ArgumentException("Pass either a mask in the context or excluded ids, not both.", nameof(context));
        }

        Snapshot snapshot = Volatile.Read(ref _snapshot);
        if (excludedIds.IsEmpty)
        {
            return TryAcquire(snapshot, in context, out lease);
        }

        BalancerSlot<TNode>[] slots = snapshot.Slots;
        int words = CandidateMask.WordsFor(slots.Length);
        Span<ulong> bits = words <= 16 ? stackalloc ulong[words] : new ulong[words];
        var mask = new CandidateMask(bits, slots.Length);
        for (int i = 0; i < slots.Length; i++)
        {
            if (excludedIds.Contains(slots[i].Entry.Id))
            {
                mask.Exclude(i);
            }
        }

        var masked = new SelectionContext
        {
            HashKey = context.HasHashKey ? context.HashKeyValue : null,
            EstimatedCost = context.EstimatedCost,
            Tags = context.Tags,
            Mask = mask,
        };
        return TryAcquire(snapshot, in masked, out lease);
    }

    /// <summary>Picks a node and holds it, or throws when none is available.</summary>
    /// <param name="context">The pick's context.</param>
    /// <returns>The lease.</returns>
    /// <exception cref="NoNodeAvailableException">No node is available.</exception>
    /// <example><code>using NodeLease&lt;Backend&gt; lease = balancer.Acquire(SelectionContext.Empty);</code></example>
    public NodeLease<TNode> Acquire(in SelectionContext context) =>
        TryAcquire(in context, out NodeLease<TNode> lease) ? lease : throw NoneAvailable();

    /// <summary>Returns the requests in flight on a node of the current set (0 for an unknown id).</summary>
    /// <param name="nodeId">The node's identity.</param>
    /// <returns>The count.</returns>
    /// <example><code>int busy = balancer.GetInFlight("10.0.0.1:80");</code></example>
    public int GetInFlight(string nodeId)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        foreach (BalancerSlot<TNode> slot in Volatile.Read(ref _snapshot).Slots)
        {
            if (string.Equals(slot.Entry.Id, nodeId, StringComparison.Ordinal))
            {
                return slot.Entry.InFlight;
            }
        }

        return 0;
    }

    internal void Release(NodeEntry entry, Outcome? outcome)
    {
        entry.Leave();
        if (outcome is { } reported && _health is { } health)
        {
            health.Report(entry.Id, reported);
        }

        _metrics.OnReleased(outcome);
    }

    private bool TryAcquire(Snapshot snapshot, in SelectionContext context, out NodeLease<TNode> lease)
    {
        BalancerSlot<TNode>[] slots = snapshot.Slots;
        for (int race = 0; ; race++)
        {
            int index;
            bool found = snapshot.Filter is { } filter
                ? Filter.TrySelect(slots, in context, filter, snapshot.Strategy, out index)
                : snapshot.Strategy.TrySelect(slots, in context, out index);
            if (!found)
            {
                break;
            }

            NodeEntry entry = slots[index].Entry;
            QuotaCharge charge = default;
            if (entry.Quota is { } quota && !quota.TryCharge(NodeQuota.SanitiseCost(context.EstimatedCost), out charge))
            {
                // Another pick took the node's last room between the filter and the charge; the filter now sees it full.
                if (race < MaxQuotaRaces)
                {
                    continue;
                }

                break;
            }

            entry.Enter();
            _metrics.OnPicked();
            lease = new NodeLease<TNode>(this, entry, slots[index].Node, index, charge);
            return true;
        }

        _metrics.OnNoneAvailable();
        lease = default;
        return false;
    }

    private NoNodeAvailableException NoneAvailable()
    {
        int count = Volatile.Read(ref _snapshot).Slots.Length;
        string why = count == 0
            ? "it has no nodes; call Update with at least one"
            : $"all {count} nodes are excluded (unhealthy, rate-limited, over quota, rejected by a predicate or masked)";
        return new NoNodeAvailableException(Name, $"Load balancer '{Name}' has no node available: {why}.");
    }

    private Snapshot CreateSnapshot(BalancerSlot<TNode>[] slots, TNode[] nodes, long version)
    {
        ISelectionStrategy<BalancerSlot<TNode>> strategy = StrategyRegistry.Create<BalancerSlot<TNode>, SlotTraits<TNode>>(_strategy);
        var filter = new BalancerFilter<TNode>(_health, _requirement, _quotas, _predicates);
        return new Snapshot(slots, Array.AsReadOnly(nodes), strategy, filter.IsEmpty ? null : filter, version);
    }

    private sealed class Snapshot(BalancerSlot<TNode>[] slots, ReadOnlyCollection<TNode> nodes, ISelectionStrategy<BalancerSlot<TNode>> strategy, BalancerFilter<TNode>? filter, long version)
    {
        public BalancerSlot<TNode>[] Slots { get; } = slots;

        public ReadOnlyCollection<TNode> Nodes { get; } = nodes;

        public ISelectionStrategy<BalancerSlot<TNode>> Strategy { get; } = strategy;

        public BalancerFilter<TNode>? Filter { get; } = filter;

        public long Version { get; } = version;
    }
}

/// <summary>Thrown by <see cref="LoadBalancer{TNode}.Acquire"/> when no node can take the request.</summary>
/// <example>
/// <code>
/// try { using var lease = balancer.Acquire(SelectionContext.Empty); }
/// catch (NoNodeAvailableException e) { logger.LogWarning("{Balancer}: {Message}", e.BalancerName, e.Message); }
/// </code>
/// </example>
public sealed class NoNodeAvailableException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="balancerName">The balancer that had no node.</param>
    /// <param name="message">What was missing and how to fix it.</param>
    /// <example><code>throw new NoNodeAvailableException("catalog", "no endpoints");</code></example>
    public NoNodeAvailableException(string balancerName, string message)
        : base(message) => BalancerName = balancerName;

    /// <summary>Gets the balancer's name.</summary>
    /// <example><code>string name = exception.BalancerName;</code></example>
    public string BalancerName { get; }
}
