using Microsoft.Extensions.Time.Testing;

namespace Loadwise.Tests.Filters;

public class SlowStartFilterTests
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(60);

    private static SlowStartFilter<TestNode, string, NodeAccessor<TestNode, string>> Filter(FakeTimeProvider time, double aggression = 1.0, double min = 10) =>
        new(Window, aggression, min, time, seed: 3);

    // Envoy: weight x max(min_percent, time_factor^(1/aggression)), time_factor = elapsed / window.
    private static double Envoy(double seconds, double aggression, double min) =>
        seconds >= 60 ? 1 : Math.Max(min / 100, Math.Pow(Math.Max(0.001, seconds) / 60, 1 / aggression));

    [Theory]
    [InlineData(1.0, 10)]
    [InlineData(2.0, 10)]
    [InlineData(0.5, 5)]
    public void The_factor_follows_envoys_formula(double aggression, double min)
    {
        var time = new FakeTimeProvider();
        var filter = Filter(time, aggression, min);
        Assert.Equal(1, filter.Factor("node-9"));
        filter.Start("node-9");
        double elapsed = 0;
        foreach (double seconds in new[] { 0, 3, 6, 15, 30, 45, 59.9, 60, 90 })
        {
            time.Advance(TimeSpan.FromSeconds(seconds - elapsed));
            elapsed = seconds;
            Assert.Equal(Envoy(seconds, aggression, min), filter.Factor("node-9"), 6);
        }
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(2.0)]
    public void Under_round_robin_the_share_follows_the_factor(double aggression)
    {
        var time = new FakeTimeProvider();
        var filter = Filter(time, aggression);
        var strategy = new RoundRobin<TestNode>();
        var nodes = Nodes.Named(10);
        filter.Start("node-9");
        double elapsed = 0;
        foreach (double seconds in new[] { 1, 15, 30, 45, 61 })
        {
            time.Advance(TimeSpan.FromSeconds(seconds - elapsed));
            elapsed = seconds;
            int hits = 0;
            for (int i = 0; i < 40_000; i++)
            {
                Assert.True(Loadwise.Filter.TrySelect(nodes, SelectionContext.Empty, filter, strategy, out int index));
                hits += index == 9 ? 1 : 0;
            }

            double expected = Envoy(seconds, aggression, 10) / 10; // the factor times its warm share of 1/10
            Assert.InRange(hits / 40_000.0, expected - 0.006, expected + 0.006);
        }
    }

    public static TheoryData<string> Placements => new() { "ring", "maglev" };

    [Theory]
    [MemberData(nameof(Placements))]
    public void Under_hashing_a_growing_set_of_the_nodes_keys_is_admitted_and_other_keys_stay(string placement)
    {
        var time = new FakeTimeProvider();
        var filter = Filter(time);
        ISelectionStrategy<TestNode> strategy = placement == "ring" ? ConsistentHash.For<TestNode, string>() : Maglev.For<TestNode, string>();
        var nodes = Nodes.Named(10);
        const int Keys = 50_000;
        int[] home = new int[Keys];
        for (int k = 0; k < Keys; k++)
        {
            strategy.TrySelect(nodes, new SelectionContext { HashKey = StableHash.Hash(k) }, out home[k]);
        }

        filter.Start("node-9");
        var admitted = new HashSet<int>();
        double elapsed = 0;
        foreach (double seconds in new[] { 3, 15, 30, 45, 60 })
        {
            time.Advance(TimeSpan.FromSeconds(seconds - elapsed));
            elapsed = seconds;
            int ownKeys = 0, kept = 0;
            for (int k = 0; k < Keys; k++)
            {
                var context = new SelectionContext { HashKey = StableHash.Hash(k) };
                Assert.True(Loadwise.Filter.TrySelect(nodes, in context, filter, strategy, out int index));
                if (home[k] != 9)
                {
                    Assert.Equal(home[k], index); // keys of other nodes never move
                    continue;
                }

                ownKeys++;
                if (index == 9)
                {
                    kept++;
                    admitted.Add(k);
                }
                else
                {
                    Assert.DoesNotContain(k, admitted); // once admitted, a key stays on the node
                }
            }

            Assert.InRange(kept / (double)ownKeys, Envoy(seconds, 1, 10) - 0.03, Envoy(seconds, 1, 10) + 0.03);
        }
    }

    [Fact]
    public void The_last_candidate_is_never_excluded_and_picks_allocate_nothing()
    {
        var time = new FakeTimeProvider();
        var filter = Filter(time);
        filter.Start("node-0");
        var one = Nodes.Named(1);
        var nodes = Nodes.Named(40);
        var strategy = new RoundRobin<TestNode>();
        for (int i = 0; i < 100; i++)
        {
            Assert.True(Loadwise.Filter.TrySelect(one, SelectionContext.Empty, filter, strategy, out int index));
            Assert.Equal(0, index);
        }

        void Run(int picks)
        {
            for (int i = 0; i < picks; i++)
            {
                Loadwise.Filter.TrySelect(nodes, new SelectionContext { HashKey = (ulong)i }, filter, strategy, out _);
                Loadwise.Filter.TrySelect(nodes, SelectionContext.Empty, filter, strategy, out _);
            }
        }

        Run(2_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(10_000);

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Following_a_health_tracker_ramps_a_node_that_goes_from_recovering_to_healthy()
    {
        var time = new FakeTimeProvider();
        var filter = Filter(time);
        var tracker = new HealthTracker<string>(new HealthTrackerOptions
        {
            Policy = new ConsecutiveFailurePolicy(1, 2, TimeSpan.FromSeconds(10)),
            TimeProvider = time,
        });
        filter.Follow(tracker);
        tracker.ReportFailure("node-9");
        time.Advance(TimeSpan.FromSeconds(10));
        tracker.ReportSuccess("node-9");
        Assert.Equal(HealthStatus.Recovering, tracker.GetStatus("node-9"));
        for (int i = 0; i < 5 && tracker.GetStatus("node-9") != HealthStatus.Healthy; i++)
        {
            Assert.Equal(1, filter.Factor("node-9")); // no ramp until it is Healthy again
            tracker.ReportSuccess("node-9");
        }

        Assert.Equal(HealthStatus.Healthy, tracker.GetStatus("node-9"));
        Assert.Equal(0.1, filter.Factor("node-9"), 6);
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(0.5, filter.Factor("node-9"), 6);
        Assert.Equal(1, filter.Factor("node-1"));
    }

    [Fact]
    public void Bad_arguments_name_the_parameter()
    {
        Assert.Equal("window", Assert.Throws<ArgumentOutOfRangeException>(() => new SlowStartFilter<TestNode, string, NodeAccessor<TestNode, string>>(TimeSpan.Zero)).ParamName);
        Assert.Equal("aggression", Assert.Throws<ArgumentOutOfRangeException>(() => new SlowStartFilter<TestNode, string, NodeAccessor<TestNode, string>>(Window, 0)).ParamName);
        Assert.Equal("minWeightPercent", Assert.Throws<ArgumentOutOfRangeException>(() => new SlowStartFilter<TestNode, string, NodeAccessor<TestNode, string>>(Window, 1, 101)).ParamName);
    }
}
