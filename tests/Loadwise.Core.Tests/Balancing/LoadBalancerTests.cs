using System.Diagnostics.Metrics;

namespace Loadwise.Tests.Balancing;

/// <summary>A class node that reports its own load (live: changed between picks without an update).</summary>
public sealed class LiveNode(string id) : INode<string>, ILoadMetric
{
    public string Id { get; } = id;

    public double LoadScore { get; set; }
}

public class LoadBalancerTests
{
    private static NodeLease<string> Take(LoadBalancer<string> balancer, in SelectionContext context = default)
    {
        Assert.True(balancer.TryAcquire(in context, out NodeLease<string> lease));
        return lease;
    }

    [Fact]
    public void In_flight_leases_are_the_load_that_power_of_two_choices_reads()
    {
        LoadBalancer<string> balancer = LoadBalancer.For<string>().UsePowerOfTwoChoices(seed: 3).Build(["a", "b"]);
        NodeLease<string> held = Take(balancer);
        string busy = held.Node;
        Assert.Equal(1, balancer.GetInFlight(busy));
        for (int i = 0; i < 50; i++)
        {
            NodeLease<string> lease = Take(balancer);
            Assert.NotEqual(busy, lease.Node); // two nodes: both are sampled, and the idle one wins every time
            lease.Dispose(Outcome.Success);
        }

        held.Dispose();
        Assert.Equal(0, balancer.GetInFlight(busy));
    }

    [Fact]
    public void Least_load_reads_a_class_nodes_own_load_on_every_pick()
    {
        LiveNode[] nodes = [new("a") { LoadScore = 5 }, new("b") { LoadScore = 1 }];
        LoadBalancer<LiveNode> balancer = LoadBalancer.For<LiveNode>().UseLeastLoad().Build(nodes);
        Assert.True(balancer.TryAcquire(SelectionContext.Empty, out NodeLease<LiveNode> first));
        Assert.Equal("b", first.NodeId);
        nodes[1].LoadScore = 9; // no update: the node's own load is read live, the lease on b does not count
        Assert.True(balancer.TryAcquire(SelectionContext.Empty, out NodeLease<LiveNode> second));
        Assert.Equal("a", second.NodeId);
        first.Dispose();
        second.Dispose();
    }

    [Fact]
    public void Update_is_seen_by_the_next_pick_and_keeps_in_flight_counts()
    {
        LoadBalancer<string> balancer = LoadBalancer.For<string>().UseRoundRobin().Build(["a", "b", "c"]);
        NodeLease<string> onA = Take(balancer);
        Assert.Equal("a", onA.Node);
        balancer.Update(["d", "a"]);
        Assert.Equal(2, balancer.Version);
        Assert.Equal(["d", "a"], balancer.Nodes);
        var seen = new HashSet<string>();
        for (int i = 0; i < 10; i++)
        {
            NodeLease<string> lease = Take(balancer);
            seen.Add(lease.Node);
            lease.Dispose();
        }

        Assert.Equal(["a", "d"], seen.Order());
        Assert.Equal(1, balancer.GetInFlight("a")); // the lease from before the update still counts on a
        onA.Dispose(Outcome.Success);
        onA.Dispose(Outcome.Success); // released once: a second release of the same variable does nothing
        Assert.Equal(0, balancer.GetInFlight("a"));
    }

    [Fact]
    public void Failures_reported_by_leases_take_a_node_out_and_rate_limits_rest_it()
    {
        var time = new ManualTimeProvider();
        LoadBalancer<string> balancer = LoadBalancer.For<string>()
            .UseRoundRobin()
            .Configure(new LoadBalancerOptions { Health = new HealthSettings { FailureThreshold = 2 } })
            .WithTimeProvider(time)
            .Build(["a", "b"]);
        for (int i = 0; i < 2; i++)
        {
            NodeLease<string> lease = Take(balancer);
            Assert.Equal(i == 0 ? "a" : "b", lease.Node);
            lease.Dispose(lease.Node == "a" ? Outcome.Failure : Outcome.Success);
        }

        Take(balancer).Dispose(Outcome.Failure); // a's second failure
        Assert.Equal(HealthStatus.Unhealthy, balancer.Health!.GetStatus("a"));
        for (int i = 0; i < 5; i++)
        {
            NodeLease<string> lease = Take(balancer);
            Assert.Equal("b", lease.Node);
            lease.Dispose(i == 0 ? Outcome.RateLimited(TimeSpan.FromSeconds(30)) : Outcome.Success);
            if (i == 0)
            {
                Assert.False(balancer.TryAcquire(SelectionContext.Empty, out _)); // a down, b resting
                var error = Assert.Throws<NoNodeAvailableException>(() => balancer.Acquire(SelectionContext.Empty));
                Assert.Contains("all 2 nodes are excluded", error.Message, StringComparison.Ordinal);
                time.Advance(TimeSpan.FromSeconds(31));
            }
        }
    }

    [Fact]
    public void Quotas_are_charged_at_pick_time_and_full_nodes_are_skipped()
    {
        var time = new ManualTimeProvider();
        var quotas = new QuotaTracker<string>([QuotaLimit.RequestsPerMinute(2), QuotaLimit.TokensPerMinute(1_000)], time);
        LoadBalancer<string> balancer = LoadBalancer.For<string>().UseMostAvailable().WithQuotas(quotas).Build(["a", "b"]);
        var context = new SelectionContext { EstimatedCost = 400 };
        var picked = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            NodeLease<string> lease = Take(balancer, in context);
            picked.Add(lease.Node);
            lease.CorrectCost(100); // the response said 100 tokens
            lease.Dispose(Outcome.Success);
        }

        Assert.Equal(["a", "a", "b", "b"], picked.Order());
        Assert.Equal(200, quotas.GetUsage("a", QuotaLimit.TokensName));
        Assert.False(balancer.TryAcquire(in context, out _)); // both used their 2 requests this minute
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.True(balancer.TryAcquire(in context, out NodeLease<string> later));
        later.Dispose();
    }

    [Fact]
    public void Predicates_and_masks_narrow_the_pick()
    {
        LoadBalancer<string> balancer = LoadBalancer.For<string>().UseRandom(seed: 1).Where(static n => n != "b").Build(["a", "b", "c"]);
        Span<ulong> bits = stackalloc ulong[1];
        var mask = new CandidateMask(bits, 3);
        mask.Exclude(0);
        var context = new SelectionContext { Mask = mask };
        for (int i = 0; i < 20; i++)
        {
            NodeLease<string> lease = Take(balancer, in context);
            Assert.Equal("c", lease.Node);
            Assert.Equal(2, lease.Index);
            lease.Dispose();
        }
    }

    [Fact]
    public void Consistent_hash_is_sticky_by_key_and_falls_back_without_one()
    {
        LoadBalancer<string> balancer = LoadBalancer.For<string>().UseConsistentHash(fallback: "RoundRobin").Build(["a", "b", "c", "d"]);
        var keyed = SelectionContext.ForKey("room-42");
        string first = Take(balancer, in keyed).Node;
        for (int i = 0; i < 20; i++)
        {
            NodeLease<string> lease = Take(balancer, in keyed);
            Assert.Equal(first, lease.Node);
            lease.Dispose();
        }

        var keyless = new HashSet<string>();
        for (int i = 0; i < 8; i++)
        {
            keyless.Add(Take(balancer).Node);
        }

        Assert.Equal(4, keyless.Count);
    }

    [Fact]
    public void Pick_and_lease_allocate_nothing()
    {
        var quotas = new QuotaTracker<string>([QuotaLimit.RequestsPerMinute(1e12)]);
        LoadBalancer<string> balancer = LoadBalancer.For<string>().UsePowerOfTwoChoices().WithHealth().WithQuotas(quotas).Where(static n => n.Length > 0)
            .Build(Enumerable.Range(0, 32).Select(i => $"n{i}"));
        balancer.Health!.ReportRateLimited("n3", TimeSpan.FromHours(1));
        void Run(int count)
        {
            for (int i = 0; i < count; i++)
            {
                Assert.True(balancer.TryAcquire(SelectionContext.Empty, out NodeLease<string> lease));
                lease.Dispose(Outcome.Success);
            }
        }

        Run(2_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(10_000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Bad_input_gets_messages_that_name_the_key_or_parameter()
    {
        var unknown = Assert.Throws<ArgumentException>("settings", () => LoadBalancer.For<string>().UseStrategy("Fastest"));
        Assert.Contains("Strategy:Name: got 'Fastest', expected one of RoundRobin,", unknown.Message, StringComparison.Ordinal);

        var options = new LoadBalancerOptions
        {
            Strategy = new StrategySettings { Name = "ConsistentHash", Fallback = "ConsistentHash", VirtualNodes = 0 },
            Health = new HealthSettings { FailureThreshold = 0, ProbeIntervalSeconds = -1 },
        };
        Assert.Equal(
            [
                "Loadwise:api:Strategy:Fallback: got 'ConsistentHash', expected one of RoundRobin, Random, WeightedRandom, WeightedRoundRobin, LeastLoad, PowerOfTwoChoices, MostAvailable, WeightedLeastRequest.",
                "Loadwise:api:Strategy:VirtualNodes: got 0, expected 1 to 65536 (160 is the default).",
                "Loadwise:api:Health:FailureThreshold: got 0, expected 1 or more (3 is the default).",
                "Loadwise:api:Health:ProbeIntervalSeconds: got -1, expected a finite number more than 0 (10 is the default).",
            ],
            options.Validate("Loadwise:api"));

        var duplicate = Assert.Throws<ArgumentException>("nodes", () => LoadBalancer.For<string>().Build(["a", "a"]));
        Assert.Contains("'a'", duplicate.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Picks_and_outcomes_are_counted_on_the_loadwise_meter()
    {
        var recorded = new List<(string Instrument, string? Balancer, string? Detail)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == LoadBalancer.MeterName && instrument.Name.StartsWith("loadwise.balancer.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var map = new Dictionary<string, object?>();
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                map[tag.Key] = tag.Value;
            }

            if ((string?)map["balancer"] == "metered")
            {
                recorded.Add((instrument.Name, (string?)map["balancer"], (string?)(map.GetValueOrDefault("result") ?? map.GetValueOrDefault("outcome"))));
            }
        });
        listener.Start();

        LoadBalancer<string> balancer = LoadBalancer.For<string>().Named("metered").UseLeastLoad().Build(["a"]);
        Take(balancer).Dispose(Outcome.Failure);
        Take(balancer).Dispose();
        balancer.Update([]);
        Assert.False(balancer.TryAcquire(SelectionContext.Empty, out _));

        Assert.Equal(
            [
                (LoadBalancer.PicksInstrument, "metered", "picked"),
                (LoadBalancer.OutcomesInstrument, "metered", "failure"),
                (LoadBalancer.PicksInstrument, "metered", "picked"),
                (LoadBalancer.OutcomesInstrument, "metered", "unreported"),
                (LoadBalancer.PicksInstrument, "metered", "none_available"),
            ],
            recorded);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Every_registered_name_builds_a_working_balancer(string name)
    {
        LoadBalancer<string> balancer = LoadBalancer.For<string>().UseStrategy(name.ToLowerInvariant()).Build(["a", "b", "c"]);
        Assert.Equal(name, balancer.StrategyName);
        var context = SelectionContext.ForKey("k");
        NodeLease<string> lease = Take(balancer, in context);
        Assert.Contains(lease.Node, balancer.Nodes);
        lease.Dispose();
    }

    public static TheoryData<string> Names() => [.. StrategyRegistry.Names];
}
