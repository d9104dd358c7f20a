using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Model;

namespace Loadwise.Yarp;

/// <summary>
/// One cluster's destinations as of one configuration: every destination (available or not), ordered by id so that
/// every proxy instance builds the same rings and tables, with weights and priorities read once. A picker keeps one
/// per cluster and builds a new one only when YARP replaces the cluster's destination list (a destination added,
/// removed or changed) or its model (cluster metadata changed); health changes only change the candidate mask.
/// </summary>
internal sealed class DestinationSet
{
    private readonly Dictionary<DestinationState, int> _indices;
    private AvailableMask? _cached;

    public DestinationSet(ClusterState cluster, bool keyed, ILogger logger)
    {
        ClusterDestinationsState state = cluster.DestinationsState;
        All = state.AllDestinations;
        Model = cluster.Model;
        var nodes = new DestinationNode[All.Count];
        for (int i = 0; i < nodes.Length; i++)
        {
            DestinationState destination = All[i];
            IReadOnlyDictionary<string, string>? metadata = destination.Model?.Config.Metadata;
            int weight = MetadataReader.Weight(metadata, out string? weightError);
            int priority = MetadataReader.Priority(metadata, out string? priorityError);
            if ((weightError ?? priorityError) is { } error)
            {
                Log.BadDestinationMetadata(logger, destination.DestinationId, cluster.ClusterId, error);
            }

            nodes[i] = new DestinationNode(destination, destination.DestinationId, weight, priority);
        }

        if (keyed)
        {
            IReadOnlyDictionary<string, string>? metadata = Model?.Config.Metadata;
            HashKey = MetadataReader.HashKey(metadata, out string? keyError);
            BalanceFactor = MetadataReader.BalanceFactor(metadata, out string? factorError);
            if ((keyError ?? factorError) is { } error)
            {
                Log.BadClusterMetadata(logger, cluster.ClusterId, error);
            }
        }

        Array.Sort(nodes, static (a, b) => string.CompareOrdinal(a.Id, b.Id));
        Nodes = nodes;
        _indices = new Dictionary<DestinationState, int>(nodes.Length, ReferenceEqualityComparer.Instance);
        for (int i = 0; i < nodes.Length; i++)
        {
            _indices[nodes[i].State] = i;
            HasLevels |= nodes[i].Priority != nodes[0].Priority;
        }
    }

    public IReadOnlyList<DestinationState> All { get; }

    public ClusterModel? Model { get; }

    /// <summary>Gets where the hashing policies read the key (null: not a hashing policy, or no usable key configured).</summary>
    public HashKeySource? HashKey { get; }

    /// <summary>Gets the bounded-load balance factor (1.25 unless the cluster says otherwise).</summary>
    public double BalanceFactor { get; } = 1.25;

    public DestinationNode[] Nodes { get; }

    /// <summary>Gets whether the destinations have more than one priority level (only then does a pick run the priority filter).</summary>
    public bool HasLevels { get; }

    public bool IsCurrent(ClusterState cluster) =>
        ReferenceEquals(All, cluster.DestinationsState.AllDestinations) && ReferenceEquals(Model, cluster.Model);

    public bool TryGetIndex(DestinationState destination, out int index) => _indices.TryGetValue(destination, out index);

    /// <summary>
    /// Marks the available destinations in <paramref name="words"/> (one bit per node) and returns how many of them
    /// belong to this set. The cluster's own available list is translated once and cached (it is replaced, never
    /// changed, when health changes); any other list is translated on the spot.
    /// </summary>
    public int MarkAvailable(IReadOnlyList<DestinationState> available, ClusterState cluster, Span<ulong> words)
    {
        AvailableMask? cached = Volatile.Read(ref _cached);
        if (cached is null || !ReferenceEquals(cached.List, available))
        {
            if (!ReferenceEquals(available, cluster.DestinationsState.AvailableDestinations))
            {
                return Translate(available, words);
            }

            cached = new AvailableMask(available, new ulong[words.Length]);
            cached.Count = Translate(available, cached.Words);
            Volatile.Write(ref _cached, cached);
        }

        cached.Words.CopyTo(words);
        return cached.Count;
    }

    private int Translate(IReadOnlyList<DestinationState> available, Span<ulong> words)
    {
        words.Clear();
        int count = 0;
        for (int i = 0; i < available.Count; i++)
        {
            // A destination missing from the set was removed by a configuration change after the request started.
            if (_indices.TryGetValue(available[i], out int index) && (words[index >> 6] & (1UL << index)) == 0)
            {
                words[index >> 6] |= 1UL << index;
                count++;
            }
        }

        return count;
    }

    private sealed class AvailableMask(IReadOnlyList<DestinationState> list, ulong[] words)
    {
        public IReadOnlyList<DestinationState> List { get; } = list;

        public ulong[] Words { get; } = words;

        public int Count { get; set; }
    }
}
