namespace Loadwise.Tests.Strategies;

public class BoundedLoadTests
{
    public static TheoryData<string> Placements => new() { "ring", "maglev" };

    private static IHashPlacement<TestNode> Placement(string name) => name == "ring"
        ? ConsistentHash.For<TestNode, string>()
        : Maglev.For<TestNode, string>();

    private static BoundedLoad<TestNode, IHashPlacement<TestNode>, InFlightLoads<TestNode>> Bounded(string placement, InFlightCounter counter, double c = 1.25) =>
        new(Placement(placement), new InFlightLoads<TestNode>(counter), c);

    // Zipf(1.0) over 1,000 keys: key 0 alone is about 13% of the traffic, far more than 1/20 of the nodes can take.
    private static ulong[] ZipfRequests(int count, int seed)
    {
        var random = new System.Random(seed);
        double[] cumulative = new double[1_000];
        double sum = 0;
        for (int k = 0; k < cumulative.Length; k++)
        {
            cumulative[k] = sum += 1.0 / (k + 1);
        }

        return Enumerable.Range(0, count).Select(_ =>
        {
            int k = Array.BinarySearch(cumulative, random.NextDouble() * sum);
            return StableHash.Hash(k < 0 ? ~k : k);
        }).ToArray();
    }

    // Requests arrive and complete in FIFO order with 400 in flight; returns the highest load/average seen at a pick.
    private static double WorstRatioAtPick(ISelectionStrategy<TestNode> strategy, InFlightCounter counter, TestNode[] nodes, double c)
    {
        var inFlight = new Queue<int>();
        double worst = 0;
        foreach (ulong key in ZipfRequests(20_000, seed: 5))
        {
            if (inFlight.Count == 400)
            {
                counter.End(inFlight.Dequeue());
            }

            var context = new SelectionContext { HashKey = key };
            Assert.True(strategy.TrySelect(nodes, in context, out int index));
            counter.Begin(index);
            inFlight.Enqueue(index);
            worst = Math.Max(worst, counter[index] / Math.Ceiling(c * counter.Total / nodes.Length));
        }

        return worst;
    }

    [Theory]
    [MemberData(nameof(Placements))]
    public void Under_zipf_skew_no_node_goes_over_c_times_the_average(string placement)
    {
        var nodes = Nodes.Named(20);
        var counter = new InFlightCounter(nodes.Length);
        Assert.True(WorstRatioAtPick(Bounded(placement, counter), counter, nodes, 1.25) <= 1.0);

        // The same traffic on the plain placement overloads the node that owns the hot key, so the bound is doing the work.
        var plainCounter = new InFlightCounter(nodes.Length);
        Assert.True(WorstRatioAtPick(Placement(placement), plainCounter, nodes, 1.25) > 2.0);
    }

    [Theory]
    [MemberData(nameof(Placements))]
    public void Keys_keep_their_node_while_it_is_under_the_bound(string placement)
    {
        var nodes = Nodes.Named(10);
        var counter = new InFlightCounter(nodes.Length);
        for (int i = 0; i < nodes.Length; i++)
        {
            for (int r = 0; r < 10 + (i / 2); r++)
            {
                counter.Begin(i); // 10 to 14 each, 120 in all: the bound is ceil(1.25 x 121 / 10) = 16, every node is under it
            }
        }

        var bounded = Bounded(placement, counter);
        var plain = Placement(placement);
        for (int k = 0; k < 5_000; k++)
        {
            var context = new SelectionContext { HashKey = StableHash.Hash(k) };
            Assert.True(plain.TrySelect(nodes, in context, out int home));
            Assert.True(bounded.TrySelect(nodes, in context, out int index));
            Assert.Equal(home, index);
        }
    }

    [Theory]
    [MemberData(nameof(Placements))]
    public void A_full_nodes_keys_jump_to_many_nodes_and_other_keys_stay(string placement)
    {
        var nodes = Nodes.Named(10);
        var counter = new InFlightCounter(nodes.Length);
        for (int r = 0; r < 30; r++)
        {
            counter.Begin(4); // node 4 holds all 30: the bound is ceil(1.25 x 31 / 10) = 4
        }

        var bounded = Bounded(placement, counter);
        var plain = Placement(placement);
        var receivers = new Dictionary<int, int>();
        for (int k = 0; k < 20_000; k++)
        {
            var context = new SelectionContext { HashKey = StableHash.Hash(k) };
            Assert.True(plain.TrySelect(nodes, in context, out int home));
            Assert.True(bounded.TrySelect(nodes, in context, out int index));
            if (home == 4)
            {
                Assert.NotEqual(4, index);
                receivers[index] = receivers.GetValueOrDefault(index) + 1;
            }
            else
            {
                Assert.Equal(home, index);
            }
        }

        // Random jumps: the overflow lands on every other node, none taking more than a quarter of it.
        Assert.Equal(9, receivers.Count);
        Assert.True(receivers.Values.Max() < 0.25 * receivers.Values.Sum(), string.Join(", ", receivers));
    }

    [Theory]
    [MemberData(nameof(Placements))]
    public void Masked_candidates_are_never_picked(string placement)
    {
        var nodes = Nodes.Named(12);
        var counter = new InFlightCounter(nodes.Length);
        var bounded = Bounded(placement, counter);
        var mask = new CandidateMask(new ulong[1], nodes.Length);
        mask.Exclude(0);
        mask.Exclude(7);
        for (int k = 0; k < 3_000; k++)
        {
            var context = new SelectionContext { HashKey = StableHash.Hash(k), Mask = mask };
            Assert.True(bounded.TrySelect(nodes, in context, out int index));
            Assert.True(mask.IsAllowed(index));
            counter.Begin(index);
        }
    }

    // Keys routed in order, each staying in flight: how many change node when one node joins.
    private static int MovedOnAdd(Func<InFlightCounter, ISelectionStrategy<TestNode>> make, int count, int keys)
    {
        int[] Route(TestNode[] nodes)
        {
            var counter = new InFlightCounter(nodes.Length);
            var strategy = make(counter);
            var owners = new int[keys];
            for (int k = 0; k < keys; k++)
            {
                var context = new SelectionContext { HashKey = StableHash.Hash(k) };
                Assert.True(strategy.TrySelect(nodes, in context, out owners[k]));
                counter.Begin(owners[k]);
            }

            return owners;
        }

        var before = Route(Nodes.Named(count));
        var after = Route(Nodes.Named(count + 1));
        return before.Zip(after).Count(p => p.First != p.Second);
    }

    [Theory]
    [MemberData(nameof(Placements))]
    public void Adding_a_node_moves_a_few_more_keys_than_the_plain_placement(string placement)
    {
        const int Keys = 20_000;
        int plain = MovedOnAdd(_ => Placement(placement), 10, Keys);
        int bounded = MovedOnAdd(counter => Bounded(placement, counter), 10, Keys);
        Assert.True(bounded >= plain * 0.9 && bounded <= plain * 2.5, $"bounded moved {bounded}, plain {plain}");
    }

    [Theory]
    [MemberData(nameof(Placements))]
    public void Picks_allocate_nothing_after_warm_up(string placement)
    {
        var nodes = Nodes.Named(300);
        var counter = new InFlightCounter(nodes.Length);
        var bounded = Bounded(placement, counter);
        var mask = new CandidateMask(new ulong[CandidateMask.WordsFor(nodes.Length)], nodes.Length);
        mask.Exclude(5);
        void Run(int picks, CandidateMask mask)
        {
            for (int i = 0; i < picks; i++)
            {
                bounded.TrySelect(nodes, new SelectionContext { HashKey = (ulong)i }, out int index);
                counter.Begin(index);
                bounded.TrySelect(nodes, new SelectionContext { HashKey = (ulong)i, Mask = mask }, out _);
            }
        }

        Run(2_000, mask);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(10_000, mask);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Any_load_accessor_can_bound_the_placement()
    {
        // Node 4's LoadScore is 30 of 30 in all: the bound is ceil(1.25 x 31 / 10) = 4, so its keys go elsewhere;
        // NaN and negative loads count as 0.
        var nodes = Nodes.Named(10).Select((n, i) => n with { LoadScore = i == 4 ? 30 : i == 7 ? double.NaN : i == 8 ? -5 : 0 }).ToArray();
        var bounded = BoundedLoad.Over(Maglev.For<TestNode, string>(), default(AccessorLoads<TestNode, LoadAccessor<TestNode>>));
        var plain = Maglev.For<TestNode, string>();
        int moved = 0;
        for (int k = 0; k < 5_000; k++)
        {
            var context = new SelectionContext { HashKey = StableHash.Hash(k) };
            Assert.True(plain.TrySelect(nodes, in context, out int home));
            Assert.True(bounded.TrySelect(nodes, in context, out int index));
            Assert.NotEqual(4, index);
            moved += home != index ? 1 : 0;
            Assert.True(home == 4 || home == index);
        }

        Assert.InRange(moved, 350, 650); // about a tenth of the keys had node 4 as home
        Assert.Equal(30, default(AccessorLoads<TestNode, LoadAccessor<TestNode>>).TotalLoad(nodes));
    }

    [Fact]
    public void The_in_flight_counter_keeps_a_total_never_goes_below_zero_and_names_a_bad_index()
    {
        var counter = new InFlightCounter(3);
        counter.Begin(0);
        counter.Begin(0);
        counter.Begin(2);
        counter.End(0);
        counter.End(1); // nothing in flight there: stays 0
        Assert.Equal(1, counter[0]);
        Assert.Equal(0, counter[1]);
        Assert.Equal(1, counter[2]);
        Assert.Equal(2, counter.Total);
        Assert.Equal(0, counter[5]); // past the capacity reads 0
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => counter.Begin(3));
        Assert.Equal("index", error.ParamName);
        Assert.Contains("new InFlightCounter(candidates.Length)", error.Message);
    }

    [Theory]
    [InlineData(0.99)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_balance_factor_below_one_is_rejected(double c)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Bounded("ring", new InFlightCounter(1), c));
        Assert.Equal("balanceFactor", error.ParamName);
    }

    [Fact]
    public void The_factories_infer_their_types_and_name_the_placement()
    {
        var loads = new InFlightLoads<TestNode>(new InFlightCounter(3));
        Assert.Equal("BoundedMaglev", BoundedLoad.Over(Maglev.For<TestNode, string>(), loads).Name);
        Assert.Equal("BoundedConsistentHash", BoundedLoad.Over(ConsistentHash.For<TestNode, string>(), loads, 2.0).Name);
        Assert.False(BoundedLoad.Over(Maglev.For<TestNode, string>(), loads).TrySelect(Nodes.Named(3), SelectionContext.Empty, out _));
    }
}
