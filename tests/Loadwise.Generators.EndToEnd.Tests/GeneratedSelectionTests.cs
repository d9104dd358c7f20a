namespace Loadwise.Generators.EndToEnd.Tests;

/// <summary>
/// Every strategy each annotated type offers picks exactly what the same strategy picks over hand-written capability
/// interfaces with the same values and seeds, through a run where each pick changes the picked node's load.
/// </summary>
public sealed class GeneratedSelectionTests
{
    private const int Picks = 400;
    private const ulong Seed = 42;

    [Fact]
    public void Struct_with_all_capabilities_matches_hand_written_interfaces_for_every_strategy()
    {
        Backend[] Nodes() => [.. Enumerable.Range(0, 9).Select(i => new Backend { Address = $"10.0.0.{i}:80", Weight = i % 4, InFlight = (i * 7) % 5, Left = 1.0 - (i % 3 * 0.25) })];
        HandNode<string>[] Hand() => [.. Nodes().Select(b => new HandNode<string>(b.Address, b.Weight, b.InFlight, b.Left))];
        static Backend Bump(Backend b) => b with { InFlight = b.InFlight + 1, Left = b.Left * 0.9 };
        static HandNode<string> BumpHand(HandNode<string> h) => h with { LoadScore = h.LoadScore + 1, RemainingRatio = h.RemainingRatio * 0.9 };

        Same(Backend.Selectors.RoundRobin(), new RoundRobin<HandNode<string>>(), Nodes(), Hand(), Bump, BumpHand);
        Same(Backend.Selectors.Random(Seed), new Random<HandNode<string>>(Seed), Nodes(), Hand(), Bump, BumpHand);
        Same(Backend.Selectors.WeightedRandom(Seed), WeightedRandom.For<HandNode<string>>(Seed), Nodes(), Hand(), Bump, BumpHand);
        Same(Backend.Selectors.WeightedRoundRobin(), WeightedRoundRobin.For<HandNode<string>, string>(), Nodes(), Hand(), Bump, BumpHand);
        Same(Backend.Selectors.LeastLoad(), LeastLoad.For<HandNode<string>>(), Nodes(), Hand(), Bump, BumpHand);
        Same(Backend.Selectors.PowerOfTwoChoices(Seed), PowerOfTwoChoices.For<HandNode<string>>(Seed), Nodes(), Hand(), Bump, BumpHand);
        Same(Backend.Selectors.ConsistentHash(), ConsistentHash.For<HandNode<string>, string>(), Nodes(), Hand(), Bump, BumpHand, keyed: true);
        Same(Backend.Selectors.MostAvailable(), MostAvailable.For<HandNode<string>>(), Nodes(), Hand(), Bump, BumpHand);
    }

    [Fact]
    public void Generated_interface_implementations_feed_Cores_own_accessors_identically()
    {
        Backend[] Nodes() => [.. Enumerable.Range(0, 6).Select(i => new Backend { Address = $"n{i}", Weight = 1 + i, InFlight = 6 - i, Left = i / 6.0 })];
        static Backend Bump(Backend b) => b with { InFlight = b.InFlight + 2, Left = b.Left / 2 };

        Same(Backend.Selectors.LeastLoad(), LeastLoad.For<Backend>(), Nodes(), Nodes(), Bump, Bump);
        Same(Backend.Selectors.WeightedRoundRobin(), WeightedRoundRobin.For<Backend, string>(), Nodes(), Nodes(), Bump, Bump);
        Same(Backend.Selectors.MostAvailable(), MostAvailable.For<Backend>(), Nodes(), Nodes(), Bump, Bump);
        Same(Backend.Selectors.ConsistentHash(), ConsistentHash.For<Backend, string>(), Nodes(), Nodes(), Bump, Bump, keyed: true);
    }

    [Fact]
    public void Class_with_long_weight_and_float_load_matches_for_every_strategy()
    {
        ServerClass[] Nodes() => [.. Enumerable.Range(0, 7).Select(i => new ServerClass { Name = $"s{i}", Weight = i == 3 ? long.MaxValue : i * 300_000_000L, Load = i % 3 })];
        HandNode<string>[] Hand() => [.. Nodes().Select(s => new HandNode<string>(s.Name, s.Weight > int.MaxValue ? int.MaxValue : (int)s.Weight, s.Load, 0))];
        static ServerClass Bump(ServerClass s)
        {
            s.Load += 1;
            return s;
        }

        static HandNode<string> BumpHand(HandNode<string> h) => h with { LoadScore = h.LoadScore + 1 };

        Same(ServerClass.Selectors.RoundRobin(), new RoundRobin<HandNode<string>>(), Nodes(), Hand(), Bump, BumpHand);
        Same(ServerClass.Selectors.Random(Seed), new Random<HandNode<string>>(Seed), Nodes(), Hand(), Bump, BumpHand);
        Same(ServerClass.Selectors.WeightedRandom(Seed), WeightedRandom.For<HandNode<string>>(Seed), Nodes(), Hand(), Bump, BumpHand);
        Same(ServerClass.Selectors.WeightedRoundRobin(), WeightedRoundRobin.For<HandNode<string>, string>(), Nodes(), Hand(), Bump, BumpHand);
        Same(ServerClass.Selectors.LeastLoad(), LeastLoad.For<HandNode<string>>(), Nodes(), Hand(), Bump, BumpHand);
        Same(ServerClass.Selectors.PowerOfTwoChoices(Seed), PowerOfTwoChoices.For<HandNode<string>>(Seed), Nodes(), Hand(), Bump, BumpHand);
        Same(ServerClass.Selectors.ConsistentHash(), ConsistentHash.For<HandNode<string>, string>(), Nodes(), Hand(), Bump, BumpHand, keyed: true);
    }

    [Fact]
    public void Record_class_with_guid_identity_and_decimal_capacity_matches_for_every_strategy()
    {
        RecordNode[] Nodes() => [.. Enumerable.Range(0, 5).Select(i => new RecordNode(new Guid(i + 1, 0, 0, new byte[8]), (ushort)(i * 3)) { Remaining = 1m - (i * 0.2m) })];
        HandNode<Guid>[] Hand() => [.. Nodes().Select(r => new HandNode<Guid>(r.Key, r.Share, 0, (double)r.Remaining))];
        static RecordNode Bump(RecordNode r) => r with { Remaining = r.Remaining * 0.5m };
        static HandNode<Guid> BumpHand(HandNode<Guid> h) => h with { RemainingRatio = (double)((decimal)h.RemainingRatio * 0.5m) };

        Same(RecordNode.Selectors.RoundRobin(), new RoundRobin<HandNode<Guid>>(), Nodes(), Hand(), Bump, BumpHand);
        Same(RecordNode.Selectors.Random(Seed), new Random<HandNode<Guid>>(Seed), Nodes(), Hand(), Bump, BumpHand);
        Same(RecordNode.Selectors.WeightedRandom(Seed), WeightedRandom.For<HandNode<Guid>>(Seed), Nodes(), Hand(), Bump, BumpHand);
        Same(RecordNode.Selectors.WeightedRoundRobin(), WeightedRoundRobin.For<HandNode<Guid>, Guid>(), Nodes(), Hand(), Bump, BumpHand);
        Same(RecordNode.Selectors.ConsistentHash(), ConsistentHash.For<HandNode<Guid>, Guid>(), Nodes(), Hand(), Bump, BumpHand, keyed: true);
        Same(RecordNode.Selectors.MostAvailable(), MostAvailable.For<HandNode<Guid>>(), Nodes(), Hand(), Bump, BumpHand);
    }

    [Fact]
    public void Record_struct_with_fields_matches_for_every_strategy()
    {
        FieldNode[] Nodes() => [.. Enumerable.Range(0, 8).Select(i => new FieldNode { Id = 100 + i, Queue = (i * 5) % 3 })];
        HandNode<int>[] Hand() => [.. Nodes().Select(f => new HandNode<int>(f.Id, 0, f.Queue, 0))];
        static FieldNode Bump(FieldNode f) => f with { Queue = f.Queue + 1 };
        static HandNode<int> BumpHand(HandNode<int> h) => h with { LoadScore = h.LoadScore + 1 };

        Same(FieldNode.Selectors.RoundRobin(), new RoundRobin<HandNode<int>>(), Nodes(), Hand(), Bump, BumpHand);
        Same(FieldNode.Selectors.Random(Seed), new Random<HandNode<int>>(Seed), Nodes(), Hand(), Bump, BumpHand);
        Same(FieldNode.Selectors.LeastLoad(), LeastLoad.For<HandNode<int>>(), Nodes(), Hand(), Bump, BumpHand);
        Same(FieldNode.Selectors.PowerOfTwoChoices(Seed), PowerOfTwoChoices.For<HandNode<int>>(Seed), Nodes(), Hand(), Bump, BumpHand);
        Same(FieldNode.Selectors.ConsistentHash(), ConsistentHash.For<HandNode<int>, int>(), Nodes(), Hand(), Bump, BumpHand, keyed: true);
    }

    [Fact]
    public void Nested_struct_with_byte_weight_and_half_load_matches_for_every_strategy()
    {
        Cluster.Member[] Nodes() => [.. Enumerable.Range(0, 6).Select(i => new Cluster.Member { Weight = (byte)(i * 40), Load = (Half)(i % 4) })];
        HandNode<int>[] Hand() => [.. Nodes().Select((m, i) => new HandNode<int>(i, m.Weight, (double)m.Load, 0))];
        static Cluster.Member Bump(Cluster.Member m) => m with { Load = (Half)((double)m.Load + 1) };
        static HandNode<int> BumpHand(HandNode<int> h) => h with { LoadScore = (double)(Half)(h.LoadScore + 1) };

        Same(Cluster.Member.Selectors.RoundRobin(), new RoundRobin<HandNode<int>>(), Nodes(), Hand(), Bump, BumpHand);
        Same(Cluster.Member.Selectors.Random(Seed), new Random<HandNode<int>>(Seed), Nodes(), Hand(), Bump, BumpHand);
        Same(Cluster.Member.Selectors.WeightedRandom(Seed), WeightedRandom.For<HandNode<int>>(Seed), Nodes(), Hand(), Bump, BumpHand);
        Same(Cluster.Member.Selectors.LeastLoad(), LeastLoad.For<HandNode<int>>(), Nodes(), Hand(), Bump, BumpHand);
        Same(Cluster.Member.Selectors.PowerOfTwoChoices(Seed), PowerOfTwoChoices.For<HandNode<int>>(Seed), Nodes(), Hand(), Bump, BumpHand);
    }

    [Fact]
    public void Generic_struct_with_saturated_ulong_weight_matches_for_every_strategy()
    {
        Keyed<long>[] Nodes() => [.. Enumerable.Range(0, 5).Select(i => new Keyed<long> { Key = i * 1000L, Weight = i == 4 ? ulong.MaxValue : (ulong)i * 500_000_000UL })];
        HandNode<long>[] Hand() => [.. Nodes().Select(k => new HandNode<long>(k.Key, k.Weight > int.MaxValue ? int.MaxValue : (int)k.Weight, 0, 0))];
        static Keyed<long> Same1(Keyed<long> k) => k;
        static HandNode<long> SameHand(HandNode<long> h) => h;

        Same(Keyed<long>.Selectors.RoundRobin(), new RoundRobin<HandNode<long>>(), Nodes(), Hand(), Same1, SameHand);
        Same(Keyed<long>.Selectors.Random(Seed), new Random<HandNode<long>>(Seed), Nodes(), Hand(), Same1, SameHand);
        Same(Keyed<long>.Selectors.WeightedRandom(Seed), WeightedRandom.For<HandNode<long>>(Seed), Nodes(), Hand(), Same1, SameHand);
        Same(Keyed<long>.Selectors.WeightedRoundRobin(), WeightedRoundRobin.For<HandNode<long>, long>(), Nodes(), Hand(), Same1, SameHand);
        Same(Keyed<long>.Selectors.ConsistentHash(), ConsistentHash.For<HandNode<long>, long>(), Nodes(), Hand(), Same1, SameHand, keyed: true);
    }

    [Fact]
    public void Accessor_reads_members_directly_with_documented_conversions()
    {
        var backend = new Backend { Address = "a", Weight = 3, InFlight = 2.5, Left = 0.25 };
        Assert.Equal("a", Backend.LoadwiseAccessor.GetId(in backend));
        Assert.Equal(3, Backend.LoadwiseAccessor.GetWeight(in backend));
        Assert.Equal(2.5, Backend.LoadwiseAccessor.GetLoad(in backend));
        Assert.Equal(0.25, Backend.LoadwiseAccessor.GetRemainingRatio(in backend));
        Assert.Equal("a", ((INode<string>)backend).Id);

        Assert.Equal(int.MaxValue, Keyed<long>.LoadwiseAccessor.GetWeight(new Keyed<long> { Weight = ulong.MaxValue }));
        Assert.Equal(7, Keyed<long>.LoadwiseAccessor.GetWeight(new Keyed<long> { Weight = 7 }));
        Assert.Equal(int.MaxValue, ServerClass.LoadwiseAccessor.GetWeight(new ServerClass { Name = "x", Weight = long.MaxValue }));
        Assert.Equal(0, ServerClass.LoadwiseAccessor.GetWeight(new ServerClass { Name = "x", Weight = long.MinValue }));
        Assert.Equal(0.5, Cluster.Member.LoadwiseAccessor.GetLoad(new Cluster.Member { Load = (Half)0.5 }));
    }

    private static void Same<TGenerated, THand>(
        ISelectionStrategy<TGenerated> generated,
        ISelectionStrategy<THand> hand,
        TGenerated[] generatedNodes,
        THand[] handNodes,
        Func<TGenerated, TGenerated> bumpGenerated,
        Func<THand, THand> bumpHand,
        bool keyed = false)
    {
        Assert.Equal(hand.Name, generated.Name);
        int[] expected = Run(hand, handNodes, bumpHand, keyed);
        int[] actual = Run(generated, generatedNodes, bumpGenerated, keyed);

        Assert.Equal(expected, actual);
        // A run that never picks, or always picks the same node, would prove little.
        Assert.True(expected.Distinct().Count() > 1, $"{hand.Name} picked only {expected[0]}");
    }

    private static int[] Run<TNode>(ISelectionStrategy<TNode> strategy, TNode[] nodes, Func<TNode, TNode> bump, bool keyed)
    {
        int[] picks = new int[Picks];
        for (int i = 0; i < Picks; i++)
        {
            SelectionContext context = keyed ? SelectionContext.ForKey(i * 7919L) : SelectionContext.Empty;
            picks[i] = strategy.TrySelect(nodes, in context, out int index) ? index : -1;
            if (index >= 0)
            {
                nodes[index] = bump(nodes[index]);
            }
        }

        return picks;
    }
}
