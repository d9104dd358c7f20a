using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Configuration.ClusterValidators;

namespace Loadwise.Yarp;

/// <summary>
/// Checks the Loadwise metadata when YARP loads a configuration: weights, priorities, backup flags, the hash-key
/// source (required by the hashing policies) and the balance factor, and reports unknown <c>Loadwise.</c> keys. YARP
/// fails the first load on an error and keeps the previous configuration on a reload, logging the error.
/// </summary>
internal sealed class LoadwiseMetadataValidator : IClusterValidator
{
    public ValueTask ValidateAsync(ClusterConfig cluster, IList<Exception> errors)
    {
        string clusterId = cluster.ClusterId;
        if (MetadataReader.UnknownKey(cluster.Metadata, cluster: true) is { } unknownClusterKey)
        {
            errors.Add(new ArgumentException($"Cluster '{clusterId}': metadata '{unknownClusterKey}' is not a Loadwise cluster key; the cluster keys are {MetadataReader.KnownKeys(cluster: true)} (weights and backups go in each destination's metadata)."));
        }

        string? policy = cluster.LoadBalancingPolicy;
        bool hashing = string.Equals(policy, LoadwisePolicies.ConsistentHash, StringComparison.OrdinalIgnoreCase)
            || string.Equals(policy, LoadwisePolicies.Maglev, StringComparison.OrdinalIgnoreCase)
            || string.Equals(policy, LoadwisePolicies.BoundedLoad, StringComparison.OrdinalIgnoreCase);
        if (hashing || cluster.Metadata?.ContainsKey(LoadwiseMetadata.HashKey) == true)
        {
            MetadataReader.HashKey(cluster.Metadata, out string? keyError);
            Add(errors, $"Cluster '{clusterId}' ({policy})", keyError);
        }

        MetadataReader.BalanceFactor(cluster.Metadata, out string? factorError);
        Add(errors, $"Cluster '{clusterId}'", factorError);
        foreach ((string destinationId, DestinationConfig destination) in cluster.Destinations ?? new Dictionary<string, DestinationConfig>())
        {
            string where = $"Destination '{destinationId}' of cluster '{clusterId}'";
            if (MetadataReader.UnknownKey(destination.Metadata, cluster: false) is { } unknownKey)
            {
                errors.Add(new ArgumentException($"{where}: metadata '{unknownKey}' is not a Loadwise destination key; the destination keys are {MetadataReader.KnownKeys(cluster: false)} (the hash key and balance factor go in the cluster's metadata)."));
            }

            MetadataReader.Weight(destination.Metadata, out string? weightError);
            Add(errors, where, weightError);
            MetadataReader.Priority(destination.Metadata, out string? priorityError);
            Add(errors, where, priorityError);
        }

        return ValueTask.CompletedTask;
    }

    private static void Add(IList<Exception> errors, string where, string? error)
    {
        if (error is not null)
        {
            errors.Add(new ArgumentException($"{where}: {error}."));
        }
    }
}
