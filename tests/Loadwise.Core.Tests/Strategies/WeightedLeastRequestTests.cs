namespace Loadwise.Tests.Strategies;

public class WeightedLeastRequestTests
{
    [Theory]
    [InlineData(4, 0, 1.0, 4.0)]
    [InlineData(4, 3, 1.0, 1.0)]
    [InlineData(6, 2, 2.0, 6.0 / 9.0)]
    [InlineData(6, 2, 0.0, 6.0)]
    [InlineData(0, 0, 1.0, 0.0)]
    [InlineData(5, double.NaN, 1.0, 0.0)]
    [InlineData(5, -3, 1.0, 5.0)]
    public void Effective_weight_is_envoys_formula(int weight, double load, double bias, double expected)
    {
        var strategy = WeightedLeastRequest.For<TestNode>(bias);
        Assert.Equal(expected, strategy.EffectiveWeight(new TestNode("a", weight, load)), 12);
    }

    [Fact]
    public void Of_two_samples_the_higher_effective_weight_wins()
    {
        // Two candidates: both are always sampled, so the pick is decided by the formula alone.
        var strategy = WeightedLeastRequest.For<TestNode>(seed: 3);
        TestNode[] nodes = [new("a", 3, LoadScore: 2), new("b", 1, LoadScore: 0)]; // 3/3 = 1 against 1/1 = 1: tie, first sample
        TestNode[] heavier = [new("a", 4, LoadScore: 2), new("b", 1, LoadScore: 0)]; // 4/3 against 1
        for (int i = 0; i < 200; i++)
        {
            Assert.True(strategy.TrySelect(heavier, SelectionContext.Empty, out int index));
            Assert.Equal(0, index);
            Assert.True(strategy.TrySelect(nodes, SelectionContext.Empty, out _));
        }
    }

    [Fact]
    public void Shares_follow_the_weights_when_load_tracks_picks()
    {
        // Requests stay in flight for a fixed number of picks: the heavier nodes hold proportionally more in flight,
        // so (as in Envoy) the long-run share follows the weights.
        var strategy = WeightedLeastRequest.For<TestNode>(seed: 9);
        var nodes = Nodes.Weighted(1, 2, 3, 4);
        var counts = new long[nodes.Length];
        var inFlight = new Queue<int>();
        for (int pick = 0; pick < 100_000; pick++)
        {
            if (inFlight.Count == 40)
            {
                int done = inFlight.Dequeue();
                nodes[done] = nodes[done] with { LoadScore = nodes[done].LoadScore - 1 };
            }

            Assert.True(strategy.TrySelect(nodes, SelectionContext.Empty, out int index));
            counts[index]++;
            nodes[index] = nodes[index] with { LoadScore = nodes[index].LoadScore + 1 };
            inFlight.Enqueue(index);
        }

        for (int i = 0; i < nodes.Length; i++)
        {
            Assert.InRange(counts[i] / 100_000.0, ((i + 1) / 10.0) - 0.03, ((i + 1) / 10.0) + 0.03);
        }
    }

    [Fact]
    public void Weight_zero_and_nan_load_never_win_and_masks_are_honoured()
    {
        var strategy = WeightedLeastRequest.For<TestNode>(seed: 5);
        TestNode[] nodes = [new("a", 0), new("b", 3, double.NaN), new("c", 1, 50), new("d", 0), new("e", 2, 7)];
        var mask = new CandidateMask(new ulong[1], nodes.Length);
        mask.Exclude(4);
        for (int i = 0; i < 500; i++)
        {
            Assert.True(strategy.TrySelect(nodes, SelectionContext.Empty, out int index));
            Assert.Contains(index, new[] { 2, 4 });
            var masked = new SelectionContext { Mask = mask };
            Assert.True(strategy.TrySelect(nodes, in masked, out index));
            Assert.Equal(2, index);
        }

        Assert.False(strategy.TrySelect([new TestNode("z", 0)], SelectionContext.Empty, out int none));
        Assert.Equal(-1, none);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_bad_bias_is_rejected(double bias)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => WeightedLeastRequest.For<TestNode>(bias));
        Assert.Equal("bias", error.ParamName);
    }
}
