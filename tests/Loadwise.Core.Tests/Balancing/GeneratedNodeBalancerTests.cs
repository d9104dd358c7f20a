namespace Loadwise.Tests.Balancing;

/// <summary>A struct node annotated for the source generator: identity, weight and load through its generated accessor.</summary>
public partial struct AnnotatedBackend
{
    [Node] public string Address { get; init; }

    [Weighted] public int Weight { get; init; }

    [LoadMetric] public double Queue { get; init; }
}

/// <summary>A class node annotated for the source generator: its load is read live, on every pick.</summary>
public sealed partial class AnnotatedServer
{
    [Node] public required string Name { get; init; }

    [LoadMetric] public double Queue { get; set; }
}

public class GeneratedNodeBalancerTests
{
    [Fact]
    public void The_builder_reads_identity_weight_and_load_through_the_generated_accessor()
    {
        AnnotatedBackend[] nodes =
        [
            new() { Address = "a", Weight = 0, Queue = 1 },
            new() { Address = "b", Weight = 3, Queue = 9 },
            new() { Address = "c", Weight = 1, Queue = 5 },
        ];
        LoadBalancer<AnnotatedBackend> leastLoad = LoadBalancer.For<AnnotatedBackend>().UseLeastLoad().WithHealth().Build(nodes);
        Assert.True(leastLoad.TryAcquire(SelectionContext.Empty, out NodeLease<AnnotatedBackend> lease));
        Assert.Equal("a", lease.NodeId); // identity from [Node], load from [LoadMetric] (not the in-flight count)
        lease.Dispose(Outcome.Failure);
        Assert.Equal(1, leastLoad.Health!.GetState("a").ConsecutiveFailures); // health keyed by the generated identity

        LoadBalancer<AnnotatedBackend> weighted = LoadBalancer.For<AnnotatedBackend>().UseWeightedRoundRobin().Build(nodes);
        var counts = new Dictionary<string, int>();
        for (int i = 0; i < 8; i++)
        {
            Assert.True(weighted.TryAcquire(SelectionContext.Empty, out NodeLease<AnnotatedBackend> pick));
            counts[pick.NodeId] = counts.GetValueOrDefault(pick.NodeId) + 1;
            pick.Dispose();
        }

        Assert.Equal(new Dictionary<string, int> { ["b"] = 6, ["c"] = 2 }, counts); // weights 0:3:1 from [Weighted]
    }

    [Fact]
    public void A_class_nodes_generated_load_is_read_on_every_pick()
    {
        AnnotatedServer[] servers = [new() { Name = "x", Queue = 1 }, new() { Name = "y", Queue = 2 }];
        LoadBalancer<AnnotatedServer> balancer = LoadBalancer.For<AnnotatedServer>().UseLeastLoad().Build(servers);
        Assert.True(balancer.TryAcquire(SelectionContext.Empty, out NodeLease<AnnotatedServer> first));
        Assert.Equal("x", first.NodeId);
        servers[0].Queue = 10;
        Assert.True(balancer.TryAcquire(SelectionContext.Empty, out NodeLease<AnnotatedServer> second));
        Assert.Equal("y", second.NodeId);
        first.Dispose();
        second.Dispose();
    }
}
