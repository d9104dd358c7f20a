using FsCheck;
using FsCheck.Fluent;

namespace Loadwise.Tests.Strategies;

public class WeightedRoundRobinTests
{
    private static string Picks(TestNode[] nodes, int count, WeightedRoundRobin<TestNode, string, WeightedNodeAccessor<TestNode, string>>? strategy = null)
    {
        strategy ??= WeightedRoundRobin.For<TestNode, string>();
        var picks = new List<string>();
        for (int i = 0; i < count; i++)
        {
            Assert.True(strategy.TrySelect(nodes, SelectionContext.Empty, out int index));
            picks.Add(nodes[index].Id);
        }

        return string.Join(' ', picks);
    }

    [Fact]
    public void Weights_5_1_1_give_the_nginx_sequence() =>
        Assert.Equal("a a b a c a a a a b a c a a", Picks(Nodes.Weighted(5, 1, 1), 14));

    [Fact]
    public void Weights_5_1_give_the_nginx_sequence() =>
        Assert.Equal("a a a b a a", Picks(Nodes.Weighted(5, 1), 6));

    [Fact]
    public void Scaled_weights_give_the_same_sequence() =>
        Assert.Equal(Picks(Nodes.Weighted(5, 1, 1), 14), Picks(Nodes.Weighted(10, 2, 2), 14));

    [Fact]
    public void Weight_zero_is_never_picked_and_all_zero_is_none()
    {
        Assert.DoesNotContain("b", Picks(Nodes.Weighted(3, 0, 2), 50).Split(' '));
        var strategy = WeightedRoundRobin.For<TestNode, string>();
        Assert.False(strategy.TrySelect(Nodes.Weighted(0, 0), SelectionContext.Empty, out int index));
        Assert.Equal(-1, index);
    }

    [Fact]
    public void A_weight_change_rebuilds_the_state()
    {
        var strategy = WeightedRoundRobin.For<TestNode, string>();
        var nodes = Nodes.Weighted(5, 1);
        Picks(nodes, 3, strategy);
        nodes[0] = nodes[0] with { Weight = 0 };
        // The change is seen no later than the pick that would return the stale node.
        Assert.Equal("b b b b", Picks(nodes, 4, strategy));
    }

    [Fact]
    public void A_replaced_node_is_never_returned_with_its_old_identity()
    {
        var strategy = WeightedRoundRobin.For<TestNode, string>();
        var nodes = Nodes.Weighted(1, 1, 1);
        Picks(nodes, 2, strategy);
        nodes[1] = new TestNode("z", 1);
        string picks = Picks(nodes, 6, strategy);
        Assert.Equal(2, picks.Split(' ').Count(p => p == "z"));
        Assert.DoesNotContain("b", picks.Split(' '));
    }

    [Fact]
    public void Masked_picks_keep_relative_weights_of_the_allowed_nodes()
    {
        var strategy = WeightedRoundRobin.For<TestNode, string>();
        var nodes = Nodes.Weighted(4, 2, 1);
        var mask = new CandidateMask(new ulong[1], 3);
        mask.Exclude(0);
        var counts = new int[3];
        for (int i = 0; i < 3000; i++)
        {
            var context = new SelectionContext { Mask = mask };
            Assert.True(strategy.TrySelect(nodes, in context, out int index));
            counts[index]++;
        }

        Assert.Equal(0, counts[0]);
        Assert.InRange(counts[1] / (double)counts[2], 1.8, 2.2);
    }

    [Fact]
    public void Huge_periods_use_the_locked_classic_step_with_the_same_result()
    {
        // Period 1,000,003 x 2 nodes exceeds the precompute budget, so this runs the locked path.
        var nodes = Nodes.Weighted(1_000_000, 3);
        string picks = Picks(nodes, 400_000);
        Assert.Equal(1, picks.Split(' ').Count(p => p == "b"));
    }

    [Fact]
    public void Any_window_of_sum_weights_picks_each_node_weight_times()
    {
        var weightsGen = Gen.Choose(0, 6).ArrayOf().Where(w => w.Length is > 0 and <= 8 && w.Sum() > 0);
        Prop.ForAll(weightsGen.ToArbitrary(), Gen.Choose(0, 50).ToArbitrary(), (int[] weights, int offset) =>
        {
            var nodes = Nodes.Weighted(weights);
            var strategy = WeightedRoundRobin.For<TestNode, string>();
            int total = weights.Sum();
            for (int i = 0; i < offset; i++)
            {
                strategy.TrySelect(nodes, SelectionContext.Empty, out _);
            }

            var counts = new int[weights.Length];
            for (int i = 0; i < total; i++)
            {
                strategy.TrySelect(nodes, SelectionContext.Empty, out int index);
                counts[index]++;
            }

            return counts.SequenceEqual(weights);
        }).QuickCheckThrowOnFailure();
    }
}
