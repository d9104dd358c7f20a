namespace Loadwise.Tests.Strategies;

/// <summary>
/// A masked candidate's share goes to the allowed candidates evenly (in weight proportion for the weighted strategies),
/// never to one neighbour. Four candidates, each position masked in turn.
/// </summary>
public class MaskedSpreadTests
{
    private const int Candidates = 4;

    public static TheoryData<string, int> KeylessStrategiesByMaskedPosition()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in new[] { "RoundRobin", "Random", "WeightedRandom", "WeightedRoundRobin", "LeastLoad", "PowerOfTwoChoices", "MostAvailable" })
        {
            for (int masked = 0; masked < Candidates; masked++)
            {
                data.Add(name, masked);
            }
        }

        return data;
    }

    public static TheoryData<string, int> RotatingStrategiesByMaskedPosition()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in new[] { "RoundRobin", "WeightedRoundRobin", "LeastLoad", "MostAvailable" })
        {
            for (int masked = 0; masked < Candidates; masked++)
            {
                data.Add(name, masked);
            }
        }

        return data;
    }

    public static TheoryData<int> MaskedPositions() => new(Enumerable.Range(0, Candidates));

    [Theory]
    [MemberData(nameof(KeylessStrategiesByMaskedPosition))]
    public void Allowed_candidates_share_the_masked_ones_turns_evenly(string name, int masked)
    {
        // Equal weights, loads and ratios: every allowed candidate is owed a third of the picks.
        const int Picks = 60_000;
        long[] counts = CountMasked(Nodes.Strategy(name, seed: 3), Nodes.Named(Candidates), masked, Picks);

        Assert.Equal(0, counts[masked]);
        foreach (int allowed in Allowed(masked))
        {
            // 20,000 expected; the random strategies' standard deviation is about 115 picks.
            Assert.InRange(counts[allowed], 19_500, 20_500);
        }
    }

    [Theory]
    [MemberData(nameof(RotatingStrategiesByMaskedPosition))]
    public void Rotating_strategies_give_each_allowed_candidate_exactly_one_turn_per_round(string name, int masked)
    {
        var strategy = Nodes.Strategy(name);
        var nodes = Nodes.Named(Candidates);
        for (int round = 0; round < 50; round++)
        {
            long[] counts = CountMasked(strategy, nodes, masked, Candidates - 1);
            Assert.Equal(Allowed(masked).Select(_ => 1L), Allowed(masked).Select(i => counts[i]));
        }
    }

    [Theory]
    [MemberData(nameof(MaskedPositions))]
    public void RoundRobin_gives_exact_turns_from_any_starting_counter(int masked)
    {
        foreach (ulong start in new ulong[] { 1, 2, 7, int.MaxValue, uint.MaxValue - 1UL })
        {
            var strategy = new RoundRobin<TestNode>(start);
            long[] counts = CountMasked(strategy, Nodes.Named(Candidates), masked, 3 * 1_000);
            Assert.Equal(0, counts[masked]);
            Assert.All(Allowed(masked), i => Assert.Equal(1_000, counts[i]));
        }
    }

    [Theory]
    [MemberData(nameof(MaskedPositions))]
    public void WeightedRoundRobin_gives_each_allowed_node_its_weight_per_period(int masked)
    {
        int[] weights = [3, 1, 2, 4];
        var strategy = WeightedRoundRobin.For<TestNode, string>();
        var nodes = Nodes.Weighted(weights);
        int period = weights.Sum() - weights[masked];
        for (int round = 0; round < 20; round++)
        {
            long[] counts = CountMasked(strategy, nodes, masked, period);
            Assert.Equal(0, counts[masked]);
            Assert.All(Allowed(masked), i => Assert.Equal(weights[i], counts[i]));
        }
    }

    [Theory]
    [MemberData(nameof(MaskedPositions))]
    public void WeightedRandom_shares_follow_the_allowed_weights(int masked)
    {
        int[] weights = [1, 2, 3, 4];
        const int Picks = 100_000;
        long[] counts = CountMasked(WeightedRandom.For<TestNode>(seed: 21), Nodes.Weighted(weights), masked, Picks);
        double allowedTotal = weights.Sum() - weights[masked];

        Assert.Equal(0, counts[masked]);
        Assert.All(Allowed(masked), i => Assert.InRange(counts[i] / (double)Picks, (weights[i] / allowedTotal) - 0.008, (weights[i] / allowedTotal) + 0.008));
    }

    [Fact]
    public void WeightedRoundRobin_a_heavy_masked_node_costs_the_allowed_ones_no_turn()
    {
        // The masked node holds almost all the weight, so nearly every ticket lands on it; the pick still finds the
        // allowed turns, in their exact proportion.
        var strategy = WeightedRoundRobin.For<TestNode, string>();
        var nodes = Nodes.Weighted(1, 10_000, 2);
        long[] counts = CountMasked(strategy, nodes, masked: 1, picks: 3 * 100);
        Assert.Equal(new long[] { 100, 0, 200 }, counts);
    }

    [Fact]
    public void LeastLoad_takes_turns_among_equal_lowest_loads()
    {
        var strategy = LeastLoad.For<TestNode>();
        Assert.Equal(new long[] { 0, 100, 100, 0, 100 }, CountPlain(strategy, Nodes.Loaded(2, 1, 1, 5, 1), 300));
        Assert.Equal(new long[] { 0, 150, 0, 150 }, CountPlain(strategy, Nodes.Loaded(double.NaN, 1, double.NaN, 1), 300));
        Assert.Equal(new long[] { 0, 150, 0, 150 }, CountPlain(strategy, Nodes.Loaded(double.NaN, double.PositiveInfinity, double.NaN, double.PositiveInfinity), 300));
        Assert.Equal(new long[] { 300, 0, 0 }, CountPlain(strategy, Nodes.Loaded(0, 1, 1), 300));
        Assert.False(strategy.TrySelect(Nodes.Loaded(double.NaN, double.NaN), SelectionContext.Empty, out _));
    }

    [Fact]
    public void LeastLoad_takes_turns_among_many_ties_with_one_masked()
    {
        // More ties than the scan keeps indices for: the later turns are found by a second pass.
        var nodes = Nodes.Loaded([.. Enumerable.Repeat(1.0, 20), 0.5]);
        nodes[20] = nodes[20] with { LoadScore = double.NaN };
        long[] counts = CountMasked(LeastLoad.For<TestNode>(), nodes, masked: 13, picks: 19 * 100);
        Assert.All(Enumerable.Range(0, 20).Where(i => i != 13), i => Assert.Equal(100, counts[i]));
        Assert.Equal(0, counts[13]);
        Assert.Equal(0, counts[20]);
    }

    [Fact]
    public void LeastLoad_turns_among_ties_are_shared_across_threads()
    {
        var strategy = LeastLoad.For<TestNode>();
        var nodes = Nodes.Loaded(1, 1, 1, 1);
        const int PerThread = 25_000;
        var counts = new long[4][];
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() => counts[t] = CountPlain(strategy, nodes, PerThread))).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        // One shared rotation: 100,000 picks are 25,000 full rounds whichever thread took each turn.
        Assert.All(Enumerable.Range(0, 4), n => Assert.Equal(PerThread, counts.Sum(c => c[n])));
    }

    private static IEnumerable<int> Allowed(int masked) => Enumerable.Range(0, Candidates).Where(i => i != masked);

    private static long[] CountMasked(ISelectionStrategy<TestNode> strategy, TestNode[] nodes, int masked, int picks)
    {
        var counts = new long[nodes.Length];
        Span<ulong> bits = stackalloc ulong[CandidateMask.WordsFor(nodes.Length)];
        var mask = new CandidateMask(bits, nodes.Length);
        mask.Exclude(masked);
        for (int i = 0; i < picks; i++)
        {
            var context = new SelectionContext { Mask = mask };
            Assert.True(strategy.TrySelect(nodes, in context, out int index));
            counts[index]++;
        }

        return counts;
    }

    private static long[] CountPlain(ISelectionStrategy<TestNode> strategy, TestNode[] nodes, int picks)
    {
        var counts = new long[nodes.Length];
        for (int i = 0; i < picks; i++)
        {
            Assert.True(strategy.TrySelect(nodes, SelectionContext.Empty, out int index));
            counts[index]++;
        }

        return counts;
    }
}
