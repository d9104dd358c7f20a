namespace Loadwise.Tests.Strategies;

/// <summary>Chi-squared goodness of fit at p >= 0.001 with fixed seeds, so the outcome is deterministic.</summary>
public class DistributionTests
{
    private const int Picks = 100_000;
    private const double Significance = 0.001;

    private static long[] Count(ISelectionStrategy<TestNode> strategy, TestNode[] nodes, Func<int, ulong?>? key = null)
    {
        var counts = new long[nodes.Length];
        for (int i = 0; i < Picks; i++)
        {
            var context = new SelectionContext { HashKey = key?.Invoke(i) };
            Assert.True(strategy.TrySelect(nodes, in context, out int index));
            counts[index]++;
        }

        return counts;
    }

    [Theory]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(64)]
    public void Random_is_uniform(int count) =>
        Assert.True(ChiSquared.PValueUniform(Count(new Random<TestNode>(seed: 11), Nodes.Named(count))) >= Significance);

    [Fact]
    public void Random_with_a_mask_is_uniform_over_the_allowed()
    {
        var nodes = Nodes.Named(10);
        var strategy = new Random<TestNode>(seed: 5);
        var counts = new long[10];
        Span<ulong> bits = stackalloc ulong[1];
        var mask = new CandidateMask(bits, 10, allowAll: false);
        foreach (int allowed in new[] { 1, 4, 9 })
        {
            mask.Allow(allowed);
        }

        for (int i = 0; i < Picks; i++)
        {
            var context = new SelectionContext { Mask = mask };
            strategy.TrySelect(nodes, in context, out int index);
            counts[index]++;
        }

        Assert.True(ChiSquared.PValueUniform([counts[1], counts[4], counts[9]]) >= Significance);
        Assert.Equal(Picks, counts[1] + counts[4] + counts[9]);
    }

    [Fact]
    public void WeightedRandom_is_proportional()
    {
        int[] weights = [1, 2, 3, 0, 10, 7];
        long[] counts = Count(WeightedRandom.For<TestNode>(seed: 3), Nodes.Weighted(weights));
        double[] shares = weights.Select(w => w / (double)weights.Sum()).ToArray();
        Assert.Equal(0, counts[3]);
        Assert.True(ChiSquared.PValue(counts, shares) >= Significance);
    }

    [Fact]
    public void WeightedRandom_with_a_mask_is_proportional_over_the_allowed()
    {
        int[] weights = [5, 1, 3, 1];
        var nodes = Nodes.Weighted(weights);
        var strategy = WeightedRandom.For<TestNode>(seed: 9);
        var mask = new CandidateMask(new ulong[1], 4);
        mask.Exclude(0);
        var counts = new long[4];
        for (int i = 0; i < Picks; i++)
        {
            var context = new SelectionContext { Mask = mask };
            strategy.TrySelect(nodes, in context, out int index);
            counts[index]++;
        }

        Assert.Equal(0, counts[0]);
        Assert.True(ChiSquared.PValue([counts[1], counts[2], counts[3]], [0.2, 0.6, 0.2]) >= Significance);
    }

    [Fact]
    public void PowerOfTwoChoices_with_equal_loads_is_uniform() =>
        Assert.True(ChiSquared.PValueUniform(Count(PowerOfTwoChoices.For<TestNode>(seed: 17), Nodes.Loaded(3, 3, 3, 3, 3))) >= Significance);

    [Fact]
    public void PowerOfTwoChoices_never_picks_the_busiest_of_many_and_always_the_less_loaded_of_two()
    {
        var strategy = PowerOfTwoChoices.For<TestNode>(seed: 2);
        long[] counts = Count(strategy, Nodes.Loaded(1, 2, 3, 4));
        Assert.Equal(0, counts[3]); // sampling without replacement: the busiest never wins a pair

        long[] pair = Count(strategy, Nodes.Loaded(9, 1));
        Assert.Equal(Picks, pair[1]);
    }

    [Fact]
    public void ConsistentHash_spreads_random_keys_by_ring_share()
    {
        var nodes = Nodes.Named(10);
        var ring = ConsistentHash.For<TestNode, string>();
        var random = new System.Random(1234);
        long[] counts = Count(ring, nodes, _ => (ulong)random.NextInt64());

        // The null hypothesis is "keys land uniformly on the ring", so expected shares are the nodes' arc lengths.
        double[] shares = RingShares(nodes, 160);
        Assert.True(ChiSquared.PValue(counts, shares) >= Significance);

        // And 160 virtual nodes keep every node within +-35% of a fair share.
        Assert.All(shares, s => Assert.InRange(s, 0.65 / nodes.Length, 1.35 / nodes.Length));
    }

    /// <summary>Arc share per node, from an independent rebuild of the ring definition in the docs.</summary>
    internal static double[] RingShares(TestNode[] nodes, int virtualNodes)
    {
        var points = new List<(ulong Point, int Owner)>();
        for (int i = 0; i < nodes.Length; i++)
        {
            ulong idHash = StableHash.Hash(nodes[i].Id);
            for (int v = 0; v < virtualNodes; v++)
            {
                points.Add((StableHash.Combine(idHash, (ulong)v), i));
            }
        }

        points.Sort();
        var shares = new double[nodes.Length];
        for (int p = 0; p < points.Count; p++)
        {
            ulong previous = points[(p + points.Count - 1) % points.Count].Point;
            ulong arc = unchecked(points[p].Point - previous); // keys in (previous, point] go to this point's owner
            shares[points[p].Owner] += arc / Math.Pow(2, 64);
        }

        return shares;
    }
}
