namespace Loadwise.Tests.Filters;

public readonly record struct TieredNode(string Id, int Priority, bool Up) : INode<string>, IPrioritized;

public readonly struct UpOnly : INodePredicate<TieredNode>
{
    public static bool Matches(in TieredNode node) => node.Up;
}

public class PriorityFilterTests
{
    private static PriorityFilter<TieredNode, PriorityAccessor<TieredNode>, PredicateFilter<TieredNode, UpOnly>> Priorities(double threshold = 50, int backupLevel = 32) =>
        new(new PanicFilter<TieredNode, PredicateFilter<TieredNode, UpOnly>>(Filter<TieredNode>.Where<UpOnly>(), threshold), backupLevel: backupLevel, seed: 7);

    // 100 nodes per level, the given percentage of each up.
    private static TieredNode[] Levels(params int[] upPercent) =>
        upPercent.SelectMany((up, level) => Enumerable.Range(0, 100).Select(i => new TieredNode($"p{level}-{i}", level, i < up))).ToArray();

    private static int[] Loads(PriorityFilter<TieredNode, PriorityAccessor<TieredNode>, PredicateFilter<TieredNode, UpOnly>> filter, TieredNode[] nodes, int levels)
    {
        Span<int> loads = stackalloc int[PriorityFilter<TieredNode, PriorityAccessor<TieredNode>, PredicateFilter<TieredNode, UpOnly>>.MaxLevels];
        filter.GetLoads(nodes, SelectionContext.Empty, loads);
        return loads[..levels].ToArray();
    }

    // Envoy's documentation, "Priority levels": healthy share per level -> traffic per level (overprovisioning 1.4).
    [Theory]
    [InlineData(new[] { 100, 100 }, new[] { 100, 0 })]
    [InlineData(new[] { 72, 100 }, new[] { 100, 0 })]
    [InlineData(new[] { 71, 100 }, new[] { 99, 1 })]
    [InlineData(new[] { 50, 100 }, new[] { 70, 30 })]
    [InlineData(new[] { 25, 100 }, new[] { 35, 65 })]
    [InlineData(new[] { 0, 100 }, new[] { 0, 100 })]
    [InlineData(new[] { 100, 100, 100 }, new[] { 100, 0, 0 })]
    [InlineData(new[] { 72, 72, 100 }, new[] { 100, 0, 0 })]
    [InlineData(new[] { 71, 71, 100 }, new[] { 99, 1, 0 })]
    [InlineData(new[] { 50, 50, 100 }, new[] { 70, 30, 0 })]
    [InlineData(new[] { 25, 100, 100 }, new[] { 35, 65, 0 })]
    [InlineData(new[] { 25, 25, 100 }, new[] { 35, 35, 30 })]
    [InlineData(new[] { 25, 25, 20 }, new[] { 36, 36, 28 })]
    [InlineData(new[] { 0, 0, 0 }, new[] { 34, 33, 33 })] // nothing up: by node count, all in panic
    public void Levels_share_the_load_as_in_envoys_tables(int[] upPercent, int[] expected)
    {
        int[] loads = Loads(Priorities(), Levels(upPercent), upPercent.Length);
        Assert.Equal(100, loads.Sum());
        for (int level = 0; level < expected.Length; level++)
        {
            Assert.InRange(loads[level], expected[level] - 1, expected[level] + 1); // Envoy's tables round real shares
        }
    }

    // Envoy's documentation, "Panic threshold" (50%): whether a level's picks include nodes that are down.
    [Theory]
    [InlineData(72, 72, 100, false, 0, false)]
    [InlineData(71, 71, 99, false, 1, false)]
    [InlineData(50, 60, 70, false, 30, false)]
    [InlineData(25, 100, 35, false, 65, false)]
    [InlineData(25, 25, 50, true, 50, true)]
    [InlineData(5, 65, 7, true, 93, false)]
    public void A_level_panics_below_the_threshold_only_when_total_availability_is_short(int up0, int up1, int share0, bool panic0, int share1, bool panic1)
    {
        var filter = Priorities();
        var nodes = Levels(up0, up1);
        var strategy = new RoundRobin<TieredNode>();
        var picks = new int[2];
        var downPicked = new bool[2];
        const int Picks = 20_000;
        for (int i = 0; i < Picks; i++)
        {
            Assert.True(Filter.TrySelect(nodes, SelectionContext.Empty, filter, strategy, out int index));
            picks[nodes[index].Priority]++;
            downPicked[nodes[index].Priority] |= !nodes[index].Up;
        }

        Assert.InRange(picks[0] * 100.0 / Picks, share0 - 2, share0 + 2);
        Assert.InRange(picks[1] * 100.0 / Picks, share1 - 2, share1 + 2);
        Assert.Equal(panic0, downPicked[0]);
        Assert.Equal(panic1, downPicked[1]);
    }

    [Fact]
    public void Primary_keeps_all_traffic_down_to_five_of_seven_nodes()
    {
        TieredNode[] Make(int primaryUp) =>
            [.. Enumerable.Range(0, 7).Select(i => new TieredNode($"a{i}", 0, i < primaryUp)), new TieredNode("b", 1, true)];
        Assert.Equal([100, 0], Loads(Priorities(), Make(5), 2)); // 5/7 = 71.43%: 1.4 x 71.43 = 100
        Assert.Equal([80, 20], Loads(Priorities(), Make(4), 2)); // 4/7 = 57%: 1.4 x 57 = 80
    }

    [Fact]
    public void Backups_take_nothing_while_any_primary_is_up_and_everything_when_none_is()
    {
        var filter = Priorities(backupLevel: 1);
        Assert.Equal([100, 0], Loads(filter, Levels(1, 100), 2)); // one primary of 100 up: Envoy alone would send 99% to P1
        Assert.Equal([0, 100], Loads(filter, Levels(0, 100), 2));
        var strategy = new RoundRobin<TieredNode>();
        var nodes = Levels(1, 100);
        for (int i = 0; i < 200; i++)
        {
            Assert.True(Filter.TrySelect(nodes, SelectionContext.Empty, filter, strategy, out int index));
            Assert.Equal("p0-0", nodes[index].Id); // the one primary up: the backups make total availability 100, so no panic
        }
    }

    [Fact]
    public void Keyed_picks_stay_in_their_level_and_masks_are_honoured()
    {
        var filter = Priorities();
        var nodes = Levels(50, 100);
        var mask = new CandidateMask(new ulong[CandidateMask.WordsFor(nodes.Length)], nodes.Length);
        mask.Exclude(0);
        for (int k = 0; k < 2_000; k++)
        {
            var context = new SelectionContext { HashKey = StableHash.Hash(k), Mask = mask };
            Assert.True(Filter.TrySelect(nodes, in context, filter, new RoundRobin<TieredNode>(), out int first));
            Assert.True(Filter.TrySelect(nodes, in context, filter, new RoundRobin<TieredNode>(), out int second));
            Assert.Equal(nodes[first].Priority, nodes[second].Priority);
            Assert.NotEqual(0, first);
        }
    }

    [Fact]
    public void Bad_settings_and_levels_are_named()
    {
        var panic = new PanicFilter<TieredNode, PredicateFilter<TieredNode, UpOnly>>(Filter<TieredNode>.Where<UpOnly>());
        Assert.Equal("overprovisioningFactor", Assert.Throws<ArgumentOutOfRangeException>(() => new PriorityFilter<TieredNode, PriorityAccessor<TieredNode>, PredicateFilter<TieredNode, UpOnly>>(panic, 0.9)).ParamName);
        Assert.Equal("backupLevel", Assert.Throws<ArgumentOutOfRangeException>(() => new PriorityFilter<TieredNode, PriorityAccessor<TieredNode>, PredicateFilter<TieredNode, UpOnly>>(panic, backupLevel: 0)).ParamName);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Loads(Priorities(), [new TieredNode("x", 32, true)], 1));
        Assert.Contains("priorities must be 0 (primary) to 31", error.Message);
    }

    [Fact]
    public void Picks_allocate_nothing()
    {
        var filter = Priorities();
        var nodes = Levels(40, 80, 100);
        var strategy = new RoundRobin<TieredNode>();
        Filter.TrySelect(nodes, SelectionContext.Empty, filter, strategy, out _);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5_000; i++)
        {
            Filter.TrySelect(nodes, new SelectionContext { HashKey = (ulong)i }, filter, strategy, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
