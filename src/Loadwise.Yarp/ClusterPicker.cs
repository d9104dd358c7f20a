using System.Buffers;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Model;

namespace Loadwise.Yarp;

/// <summary>
/// The part every Loadwise policy shares: per cluster, the current <see cref="DestinationSet"/> and the Core strategy
/// built over it, rebuilt only when the set is replaced; per pick, a candidate mask of YARP's available destinations,
/// narrowed to the first priority level that has one (Core's <see cref="PriorityFilter{TNode, TAccessor, THealth}"/>),
/// and the strategy's pick under it. A pick allocates nothing once the cluster's set is built (masks live on the stack
/// up to 4,096 destinations and are rented beyond).
/// </summary>
/// <typeparam name="TStrategy">The Core strategy the policy picks with.</typeparam>
internal sealed class ClusterPicker<TStrategy>
    where TStrategy : class, ISelectionStrategy<DestinationNode>
{
    private const int StackWords = 64;
    private readonly ConditionalWeakTable<ClusterState, Holder> _clusters = new();
    private readonly Func<DestinationSet, TStrategy> _create;
    private readonly ILogger _logger;
    private readonly bool _keyed;

    // Every level YARP left a destination in is fully available to the filter, so the first such level takes all the
    // traffic: strict failover, as backups need. Panic is YARP's (HealthyOrPanic), so the filter's is off.
    private readonly PriorityFilter<DestinationNode, DestinationNodeAccessor, AvailableAsGiven> _levels = new(new PanicFilter<DestinationNode, AvailableAsGiven>(default, thresholdPercent: 0));

    /// <summary>Creates the picker.</summary>
    /// <param name="create">Builds the strategy for a new destination set.</param>
    /// <param name="keyed">True for the hashing policies: each set reads the cluster's hash-key source.</param>
    /// <param name="logger">Where bad metadata is reported.</param>
    public ClusterPicker(Func<DestinationSet, TStrategy> create, bool keyed, ILogger logger)
    {
        _create = create;
        _keyed = keyed;
        _logger = logger;
    }

    /// <summary>Gets the current set and strategy of <paramref name="cluster"/>, building them when the cluster changed.</summary>
    public (DestinationSet Set, TStrategy Strategy) Current(ClusterState cluster)
    {
        Holder holder = _clusters.GetOrCreateValue(cluster);
        Entry? entry = Volatile.Read(ref holder.Entry);
        if (entry is null || !entry.Set.IsCurrent(cluster))
        {
            lock (holder)
            {
                entry = holder.Entry;
                if (entry is null || !entry.Set.IsCurrent(cluster))
                {
                    var set = new DestinationSet(cluster, _keyed, _logger);
                    entry = new Entry(set, _create(set));
                    Volatile.Write(ref holder.Entry, entry);
                    Log.SetBuilt(_logger, cluster.ClusterId, set.Nodes.Length);
                }
            }
        }

        return (entry.Set, entry.Strategy);
    }

    /// <summary>Picks among <paramref name="available"/> with the cluster's strategy; null when none of them can be picked.</summary>
    [SkipLocalsInit]
    public DestinationState? Pick(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> available)
    {
        (DestinationSet set, TStrategy strategy) = Current(cluster);
        DestinationNode[] nodes = set.Nodes;
        if (nodes.Length == 0 || available.Count == 0)
        {
            return null;
        }

        ulong key = 0;
        bool hasKey = set.HashKey is { } source && source.TryRead(context, out key);

        int words = CandidateMask.WordsFor(nodes.Length);
        ulong[]? rented = null;
        Span<ulong> storage = words <= StackWords ? stackalloc ulong[words] : (rented = ArrayPool<ulong>.Shared.Rent(words)).AsSpan(0, words);
        var mask = new CandidateMask(storage, nodes.Length, allowAll: false);
        int allowed = set.MarkAvailable(available, cluster, storage);
        bool found = false;
        int index = -1;
        if (allowed > 0)
        {
            // Everything available and one level: no mask, so the strategies take their unmasked (fastest) paths.
            var selection = allowed == nodes.Length
                ? new SelectionContext { HashKey = hasKey ? key : null }
                : new SelectionContext { HashKey = hasKey ? key : null, Mask = mask };
            found = set.HasLevels
                ? Filter.TrySelect(nodes, in selection, _levels, strategy, out index)
                : strategy.TrySelect(nodes, in selection, out index);
        }

        if (rented is not null)
        {
            ArrayPool<ulong>.Shared.Return(rented);
        }

        return found ? nodes[index].State : null;
    }

    private sealed class Holder
    {
        public Entry? Entry;
    }

    private sealed class Entry(DestinationSet set, TStrategy strategy)
    {
        public DestinationSet Set { get; } = set;

        public TStrategy Strategy { get; } = strategy;
    }
}
