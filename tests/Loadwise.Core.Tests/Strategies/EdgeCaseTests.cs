namespace Loadwise.Tests.Strategies;

public class EdgeCaseTests
{
    public static TheoryData<string> Strategies => Nodes.StrategyNames();

    private static SelectionContext Keyed(CandidateMask mask = default) => new() { HashKey = 99, Mask = mask };

    [Theory]
    [MemberData(nameof(Strategies))]
    public void Empty_span_is_none(string name)
    {
        Assert.False(Nodes.Strategy(name).TrySelect([], Keyed(), out int index));
        Assert.Equal(-1, index);
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void All_masked_is_none(string name)
    {
        var nodes = Nodes.Named(70);
        var mask = new CandidateMask(new ulong[2], 70, allowAll: false);
        Assert.False(Nodes.Strategy(name).TrySelect(nodes, Keyed(mask), out int index));
        Assert.Equal(-1, index);
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void One_candidate_is_picked(string name)
    {
        var strategy = Nodes.Strategy(name);
        for (int i = 0; i < 10; i++)
        {
            Assert.True(strategy.TrySelect(Nodes.Named(1), Keyed(), out int index));
            Assert.Equal(0, index);
        }
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void Only_the_single_allowed_candidate_is_picked(string name)
    {
        var strategy = Nodes.Strategy(name);
        var nodes = Nodes.Named(65);
        var mask = new CandidateMask(new ulong[2], 65, allowAll: false);
        mask.Allow(64);
        for (int i = 0; i < 20; i++)
        {
            var context = new SelectionContext { HashKey = (ulong)i, Mask = mask };
            Assert.True(strategy.TrySelect(nodes, in context, out int index));
            Assert.Equal(64, index);
        }
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void Large_candidate_sets_return_valid_indices(string name)
    {
        foreach (int count in new[] { 63, 64, 65, 100_000 })
        {
            var strategy = (name, count) switch
            {
                ("ConsistentHash", 100_000) => ConsistentHash.For<TestNode, string>(virtualNodes: 4), // 160 x 100,000 points is a 16M-point ring
                ("Maglev", 100_000) => Maglev.For<TestNode, string>(tableSize: 100_003), // a table needs an entry per node
                _ => Nodes.Strategy(name),
            };
            var nodes = Nodes.Named(count);
            for (int i = 0; i < 50; i++)
            {
                var context = new SelectionContext { HashKey = (ulong)i };
                Assert.True(strategy.TrySelect(nodes, in context, out int index));
                Assert.InRange(index, 0, count - 1);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void A_candidate_set_that_changes_between_picks_never_yields_a_stale_index(string name)
    {
        // Every round replaces every node (new ids, shifted weights) and keeps the length for 40 rounds at a time, so
        // only the per-pick check can notice the change. Each pick must be the one a strategy built for this candidate
        // set would make: a fresh instance brought to the same counter or random state by as many picks as the
        // reused one has made. Loads and ratios are distinct and far apart, so no tie rotation is involved.
        var strategy = Nodes.Strategy(name);
        for (int round = 0; round < 200; round++)
        {
            TestNode[] nodes = Round(round);
            var context = new SelectionContext { HashKey = (ulong)round * 7919 };
            Assert.True(strategy.TrySelect(nodes, in context, out int index));
            if (name == "WeightedRandom")
            {
                // Its O(1) check consumes a random draw before it notices a change, so a fresh instance's random state
                // cannot be matched; a stale alias table would still pick the node whose weight just became 0.
                Assert.NotEqual(0, nodes[index].Weight);
                continue;
            }

            var fresh = Nodes.Strategy(name);
            for (int i = 0; i < round; i++)
            {
                fresh.TrySelect(nodes, in context, out _);
            }

            Assert.True(fresh.TrySelect(nodes, in context, out int expected));
            Assert.Equal(expected, index);
        }

        static TestNode[] Round(int round)
        {
            int count = 5 + (round / 40 % 3);
            return Enumerable.Range(0, count)
                .Select(i => new TestNode($"r{round}-n{i}", (i + round) % 4, LoadScore: (i + round) % count, RemainingRatio: (count - 1 - i + round) % count / (double)count))
                .ToArray();
        }
    }

    [Fact]
    public void LeastLoad_picks_the_lowest_ties_take_turns_and_nan_never_wins()
    {
        var strategy = LeastLoad.For<TestNode>();
        Assert.Equal(1, Pick(strategy, Nodes.Loaded(5, 1, 3, 1)));
        Assert.Equal(3, Pick(strategy, Nodes.Loaded(5, 1, 3, 1)));
        Assert.Equal(2, Pick(strategy, Nodes.Loaded(double.NaN, 4, 2, double.NaN)));
        Assert.Equal(1, Pick(strategy, Nodes.Loaded(double.NaN, double.PositiveInfinity)));
        Assert.Equal(0, Pick(strategy, Nodes.Loaded(double.NegativeInfinity, -5)));
        Assert.False(strategy.TrySelect(Nodes.Loaded(double.NaN, double.NaN), SelectionContext.Empty, out _));

        // The minimum sits in the tail, then is shared by two nodes in the middle of 100 loads.
        double[] loads = Enumerable.Range(0, 100).Select(i => 100.0 - i).ToArray();
        Assert.Equal(99, Pick(strategy, Nodes.Loaded(loads)));
        loads[37] = -1;
        loads[80] = -1;
        Assert.Equal([37, 80], new[] { Pick(strategy, Nodes.Loaded(loads)), Pick(strategy, Nodes.Loaded(loads)) }.Order());
    }

    [Fact]
    public void LeastLoad_respects_the_mask()
    {
        var nodes = Nodes.Loaded(0, 5, 1, 7);
        var mask = new CandidateMask(new ulong[1], 4);
        mask.Exclude(0);
        var context = new SelectionContext { Mask = mask };
        Assert.True(LeastLoad.For<TestNode>().TrySelect(nodes, in context, out int index));
        Assert.Equal(2, index);
    }

    [Fact]
    public void PowerOfTwoChoices_never_returns_a_nan_load()
    {
        var strategy = PowerOfTwoChoices.For<TestNode>(seed: 4);
        var nodes = Nodes.Loaded(double.NaN, double.NaN, double.NaN, 8, double.NaN);
        for (int i = 0; i < 200; i++)
        {
            Assert.Equal(3, Pick(strategy, nodes));
        }

        Assert.False(strategy.TrySelect(Nodes.Loaded(double.NaN), SelectionContext.Empty, out _));
        Assert.False(strategy.TrySelect(Nodes.Loaded(double.NaN, double.NaN), SelectionContext.Empty, out _));
    }

    [Fact]
    public void MostAvailable_spreads_near_ties_and_ignores_the_rest()
    {
        var strategy = MostAvailable.For<TestNode>(epsilon: 0.05);
        var nodes = Nodes.WithRatios(0.9, 0.2, 0.88, double.NaN, 0.5);
        var counts = new int[5];
        for (int i = 0; i < 1000; i++)
        {
            counts[Pick(strategy, nodes)]++;
        }

        Assert.Equal([500, 0, 500, 0, 0], counts);
        Assert.Equal(4, Pick(MostAvailable.For<TestNode>(epsilon: 0), Nodes.WithRatios(0.1, double.NaN, 0.3, 0.2, 0.7)));
    }

    [Fact]
    public void Invalid_constructor_arguments_name_the_parameter()
    {
        Assert.Throws<ArgumentOutOfRangeException>("virtualNodes", () => ConsistentHash.For<TestNode, string>(0));
        Assert.Throws<ArgumentOutOfRangeException>("virtualNodes", () => ConsistentHash.For<TestNode, string>(-3));
        Assert.Throws<ArgumentOutOfRangeException>("virtualNodes", () => ConsistentHash.For<TestNode, string>(70_000));
        Assert.Throws<ArgumentOutOfRangeException>("epsilon", () => MostAvailable.For<TestNode>(-0.1));
        Assert.Throws<ArgumentOutOfRangeException>("epsilon", () => MostAvailable.For<TestNode>(double.NaN));
        Assert.Throws<ArgumentException>("strategies", () => new FallbackChain<TestNode>());
        Assert.Throws<ArgumentException>("strategies", () => new FallbackChain<TestNode>(new RoundRobin<TestNode>(), null!));
        Assert.Throws<ArgumentNullException>("fallback", () => new WithFallback<TestNode, RoundRobin<TestNode>, RoundRobin<TestNode>>(new(), null!));
    }

    [Fact]
    public void RoundRobin_is_exact_past_int_overflow()
    {
        var strategy = new RoundRobin<string>(start: int.MaxValue - 2);
        string[] nodes = ["a", "b", "c"];
        var picks = Enumerable.Range(0, 9).Select(_ =>
        {
            strategy.TrySelect(nodes, SelectionContext.Empty, out int i);
            return i;
        }).ToArray();
        int first = (int)((int.MaxValue - 2L) % 3);
        Assert.Equal(Enumerable.Range(0, 9).Select(k => (first + k) % 3), picks);
    }

    [Fact]
    public void RoundRobin_rotates_over_the_allowed_candidates_only()
    {
        var strategy = new RoundRobin<string>();
        string[] nodes = ["a", "b", "c", "d"];
        var mask = new CandidateMask(new ulong[1], 4);
        mask.Exclude(1);
        var picks = new List<string>();
        for (int k = 0; k < 4; k++)
        {
            var context = new SelectionContext { Mask = mask };
            strategy.TrySelect(nodes, in context, out int i);
            picks.Add(nodes[i]);
        }

        Assert.Equal(["a", "c", "d", "a"], picks);
    }

    [Fact]
    public void FallbackChain_uses_the_first_strategy_that_picks()
    {
        var chain = new FallbackChain<TestNode>(ConsistentHash.For<TestNode, string>(), LeastLoad.For<TestNode>());
        var nodes = Nodes.Loaded(3, 1, 2);
        Assert.True(chain.TrySelect(nodes, SelectionContext.Empty, out int index));
        Assert.Equal(1, index);
        Assert.Equal("FallbackChain(ConsistentHash,LeastLoad)", chain.Name);
        Assert.Equal(2, chain.Strategies.Count);
    }

    private static int Pick(ISelectionStrategy<TestNode> strategy, TestNode[] nodes)
    {
        Assert.True(strategy.TrySelect(nodes, SelectionContext.Empty, out int index));
        return index;
    }
}
