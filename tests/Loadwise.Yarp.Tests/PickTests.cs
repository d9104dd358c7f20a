using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Loadwise.Yarp.Tests;

/// <summary>The policies called as YARP's load-balancing step calls them, on hand-built cluster state.</summary>
public sealed class PickTests
{
    public static TheoryData<string> Policies => [.. LoadwisePolicies.All];

    public static TheoryData<string, int> PoliciesAndBackups => [.. LoadwisePolicies.All.SelectMany(p => new[] { (p, 0), (p, 2) })];

    [Theory]
    [MemberData(nameof(PoliciesAndBackups))]
    public void A_pick_allocates_nothing_after_warm_up_with_health_changes_and_backups(string name, int backups)
    {
        ILoadBalancingPolicy policy = Create(name);
        ClusterState cluster = Cluster(name, 8, backups);
        var context = new DefaultHttpContext();
        context.Request.Headers["X-Player"] = "player-7";
        IReadOnlyList<DestinationState> all = cluster.DestinationsState.AllDestinations;
        DestinationState[] someDown = [.. all.Where((_, i) => i % 3 != 0)];
        foreach (IReadOnlyList<DestinationState> available in new[] { all, someDown })
        {
            cluster.DestinationsState = new ClusterDestinationsState(all, available);
            for (int i = 0; i < 2_000; i++)
            {
                Assert.NotNull(policy.PickDestination(context, cluster, available));
            }

            // The least of three rounds: the JIT's tiering may allocate a few bytes once, on this thread, in any
            // round (24 B seen; none with tiered compilation off), while a pick that allocates shows in every round.
            long least = long.MaxValue;
            for (int round = 0; round < 3; round++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 10_000; i++)
                {
                    policy.PickDestination(context, cluster, available);
                }

                least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            }

            Assert.Equal(0, least);
        }
    }

    [Theory]
    [MemberData(nameof(Policies))]
    public void Only_available_destinations_are_picked_and_backups_only_when_no_primary_is(string name)
    {
        ILoadBalancingPolicy policy = Create(name);
        ClusterState cluster = Cluster(name, 6, backups: 2); // d0..d3 primaries, d4 and d5 backups
        var context = new DefaultHttpContext();
        IReadOnlyList<DestinationState> all = cluster.DestinationsState.AllDestinations;
        DestinationState[] available = [all[1], all[3], all[4], all[5]];
        cluster.DestinationsState = new ClusterDestinationsState(all, available);
        var picked = new HashSet<string>();
        for (int i = 0; i < 200; i++)
        {
            context.Request.Headers["X-Player"] = "player-" + i;
            picked.Add(policy.PickDestination(context, cluster, available)!.DestinationId);
        }

        Assert.Subset(new HashSet<string> { "d1", "d3" }, picked);

        DestinationState[] backupsOnly = [all[4], all[5]];
        cluster.DestinationsState = new ClusterDestinationsState(all, backupsOnly);
        picked.Clear();
        for (int i = 0; i < 200; i++)
        {
            context.Request.Headers["X-Player"] = "player-" + i;
            picked.Add(policy.PickDestination(context, cluster, backupsOnly)!.DestinationId);
        }

        Assert.Subset(new HashSet<string> { "d4", "d5" }, picked);
    }

    [Fact]
    public void The_destination_set_is_rebuilt_when_the_destination_list_or_model_is_replaced_and_not_on_health_changes()
    {
        var policy = new WeightedRoundRobinPolicy(NullLogger<WeightedRoundRobinPolicy>.Instance);
        ClusterState cluster = Cluster(LoadwisePolicies.WeightedRoundRobin, 4, backups: 0);
        IReadOnlyList<DestinationState> all = cluster.DestinationsState.AllDestinations;
        DestinationSet first = policy.Picker.Current(cluster).Set;

        cluster.DestinationsState = new ClusterDestinationsState(all, [all[0], all[2]]); // a health change
        Assert.Same(first, policy.Picker.Current(cluster).Set);

        cluster.DestinationsState = new ClusterDestinationsState([.. all], all); // YARP's list after a configuration change
        DestinationSet second = policy.Picker.Current(cluster).Set;
        Assert.NotSame(first, second);
        Assert.Same(second, policy.Picker.Current(cluster).Set);
    }

    [Fact]
    public void A_bad_weight_that_bypassed_validation_is_logged_with_the_destination_and_key_and_counts_as_1()
    {
        var logger = new CollectingLogger();
        var policy = new WeightedRoundRobinPolicy(logger);
        ClusterState cluster = Cluster(LoadwisePolicies.WeightedRoundRobin, 2, backups: 0, weight: i => i == 0 ? "heavy" : "1");
        var counts = new Dictionary<string, int>();
        for (int i = 0; i < 10; i++)
        {
            string id = policy.PickDestination(new DefaultHttpContext(), cluster, cluster.DestinationsState.AvailableDestinations)!.DestinationId;
            counts[id] = counts.GetValueOrDefault(id) + 1;
        }

        Assert.Equal(5, counts["d0"]);
        string line = Assert.Single(logger.Lines);
        Assert.Contains("Destination 'd0' of cluster 'c'", line, StringComparison.Ordinal);
        Assert.Contains("'Loadwise.Weight' is 'heavy'", line, StringComparison.Ordinal);
    }

    internal static ILoadBalancingPolicy Create(string name) => name switch
    {
        LoadwisePolicies.WeightedRoundRobin => new WeightedRoundRobinPolicy(NullLogger<WeightedRoundRobinPolicy>.Instance),
        LoadwisePolicies.ConsistentHash => new ConsistentHashPolicy(NullLogger<ConsistentHashPolicy>.Instance),
        LoadwisePolicies.Maglev => new MaglevPolicy(NullLogger<MaglevPolicy>.Instance),
        LoadwisePolicies.BoundedLoad => new BoundedLoadPolicy(NullLogger<BoundedLoadPolicy>.Instance),
        _ => new PeakEwmaPolicy(NullLogger<PeakEwmaPolicy>.Instance, new FakeTimeProvider()) { LatencyReported = true },
    };

    internal static ClusterState Cluster(string policy, int count, int backups, Func<int, string>? weight = null)
    {
        var config = new ClusterConfig
        {
            ClusterId = "c",
            LoadBalancingPolicy = policy,
            Metadata = new Dictionary<string, string> { [LoadwiseMetadata.HashKey] = "header:X-Player" },
        };
        var cluster = new ClusterState("c", new ClusterModel(config, new HttpMessageInvoker(new HttpClientHandler())));
        var destinations = new DestinationState[count];
        for (int i = 0; i < count; i++)
        {
            var metadata = new Dictionary<string, string> { [LoadwiseMetadata.Weight] = weight?.Invoke(i) ?? "1" };
            if (i >= count - backups)
            {
                metadata[LoadwiseMetadata.Backup] = "true";
            }

            destinations[i] = new DestinationState("d" + i, new DestinationModel(new DestinationConfig { Address = $"http://10.0.0.{i}/", Metadata = metadata }));
            cluster.Destinations[destinations[i].DestinationId] = destinations[i];
        }

        cluster.DestinationsState = new ClusterDestinationsState(destinations, destinations);
        return cluster;
    }
}
