using Yarp.ReverseProxy.Configuration;

namespace Loadwise.Yarp.Tests;

/// <summary>Bad Loadwise metadata fails YARP's configuration load with a message that names the place, the key and the fix.</summary>
public sealed class ValidationTests
{
    public static TheoryData<string, string?, string?, string, string> BadMetadata => new()
    {
        // policy, destination key=value, cluster key=value, expected fragments
        { LoadwisePolicies.WeightedRoundRobin, "Loadwise.Weight=abc", null, "Destination 'a' of cluster 'c'", "'Loadwise.Weight' is 'abc'" },
        { LoadwisePolicies.WeightedRoundRobin, "Loadwise.Weight=-2", null, "Destination 'a' of cluster 'c'", "from 0 to 10000" },
        { LoadwisePolicies.WeightedRoundRobin, "Loadwise.Backup=yes", null, "Destination 'a' of cluster 'c'", "'Loadwise.Backup' is 'yes'" },
        { LoadwisePolicies.WeightedRoundRobin, "Loadwise.Priority=40", null, "Destination 'a' of cluster 'c'", "from 0 (primary, the default) to 31" },
        { LoadwisePolicies.WeightedRoundRobin, "Loadwise.Wieght=3", null, "Destination 'a' of cluster 'c'", "'Loadwise.Wieght' is not a Loadwise destination key" },
        { LoadwisePolicies.ConsistentHash, null, null, "Cluster 'c'", "'Loadwise.HashKey' is missing" },
        { LoadwisePolicies.Maglev, null, "Loadwise.HashKey=body:x", "Cluster 'c'", "'Loadwise.HashKey' is 'body:x'" },
        { LoadwisePolicies.BoundedLoad, null, "Loadwise.BalanceFactor=0.5", "Cluster 'c'", "'Loadwise.BalanceFactor' is '0.5'" },
    };

    [Theory]
    [MemberData(nameof(BadMetadata))]
    public async Task Bad_metadata_fails_the_configuration_load_naming_the_place_and_the_key(string policy, string? destinationEntry, string? clusterEntry, string where, string what)
    {
        Backend[] backends = await Backend.StartManyAsync("a", "b");
        Proxy? proxy = null;
        try
        {
            var clusterMetadata = new Dictionary<string, string>();
            if (clusterEntry is not null)
            {
                clusterMetadata[clusterEntry.Split('=')[0]] = clusterEntry.Split('=')[1];
            }
            else if (policy != LoadwisePolicies.ConsistentHash && policy != LoadwisePolicies.WeightedRoundRobin)
            {
                clusterMetadata[LoadwiseMetadata.HashKey] = "ip";
            }

            ClusterConfig cluster = Proxy.Cluster(policy, backends, b => b.Name == "a" && destinationEntry is not null ? new() { [destinationEntry.Split('=')[0]] = destinationEntry.Split('=')[1] } : null, clusterMetadata);

            Exception error = await Assert.ThrowsAnyAsync<Exception>(async () => proxy = await Proxy.StartAsync(cluster));

            string text = error.ToString();
            Assert.Contains(where, text, StringComparison.Ordinal);
            Assert.Contains(what, text, StringComparison.Ordinal);
        }
        finally
        {
            await Disposables.DisposeAllAsync(proxy, backends);
        }
    }

    [Fact]
    public async Task Good_metadata_loads()
    {
        Backend[] backends = await Backend.StartManyAsync("a", "b");
        Proxy? proxy = null;
        try
        {
            ClusterConfig cluster = Proxy.Cluster(LoadwisePolicies.BoundedLoad, backends, b => new() { [LoadwiseMetadata.Weight] = "2", [LoadwiseMetadata.Priority] = "0", [LoadwiseMetadata.Backup] = "false" }, new() { [LoadwiseMetadata.HashKey] = "route:id", [LoadwiseMetadata.BalanceFactor] = "1.5" });

            proxy = await Proxy.StartAsync(cluster);

            Assert.Contains(await proxy.SendAsync(Proxy.Get()), new[] { "a", "b" });
        }
        finally
        {
            await Disposables.DisposeAllAsync(proxy, backends);
        }
    }
}
