namespace Loadwise.Core.Tests.Filters;

public sealed class PanicFilterTests
{
    /// <summary>Excludes the indices it is given.</summary>
    private readonly struct ExcludeIndices(int[] excluded) : ICandidateFilter<int>
    {
        public void Apply(ReadOnlySpan<int> candidates, in SelectionContext context, CandidateMask mask)
        {
            foreach (int i in excluded)
            {
                mask.Exclude(i);
            }
        }
    }

    private static int[] Allowed(PanicFilter<int, ExcludeIndices> filter, int count, params int[] tried)
    {
        Span<ulong> bits = stackalloc ulong[CandidateMask.WordsFor(count)];
        var mask = new CandidateMask(bits, count);
        foreach (int i in tried)
        {
            mask.Exclude(i);
        }

        int[] nodes = new int[count];
        filter.Apply(nodes, SelectionContext.Empty, mask);
        var allowed = new List<int>();
        for (int i = 0; i < count; i++)
        {
            if (mask.IsAllowed(i))
            {
                allowed.Add(i);
            }
        }

        return [.. allowed];
    }

    [Fact]
    public void Above_the_threshold_the_inner_filter_decides()
    {
        var filter = new PanicFilter<int, ExcludeIndices>(new ExcludeIndices([1]), 50);
        Assert.Equal([0, 2, 3], Allowed(filter, 4));
        Assert.False(filter.InPanic);
        Assert.Equal(0, filter.PanicPicks);
    }

    [Fact]
    public void Below_the_threshold_every_candidate_it_was_given_comes_back()
    {
        var changes = new List<bool>();
        var filter = new PanicFilter<int, ExcludeIndices>(new ExcludeIndices([0, 1, 2]), 50);
        filter.PanicChanged += changes.Add;

        Assert.Equal([0, 1, 2, 3], Allowed(filter, 4));
        Assert.Equal([0, 1, 2, 3], Allowed(filter, 4));
        Assert.True(filter.InPanic);
        Assert.Equal(2, filter.PanicPicks);
        Assert.Equal([true], changes); // once on entering, not per pick
    }

    [Fact]
    public void Leaving_panic_is_reported_once()
    {
        var changes = new List<bool>();
        var excluded = new int[] { 0, 1, 2 };
        var filter = new PanicFilter<int, ExcludeIndices>(new ExcludeIndices(excluded), 50);
        filter.PanicChanged += changes.Add;
        Allowed(filter, 4);
        excluded[0] = excluded[1] = excluded[2] = 3; // now only node 3 is out
        Assert.Equal([0, 1, 2], Allowed(filter, 4));
        Assert.Equal([0, 1, 2], Allowed(filter, 4));
        Assert.Equal([true, false], changes);
        Assert.False(filter.InPanic);
    }

    [Fact]
    public void Exactly_at_the_threshold_is_not_panic()
    {
        var filter = new PanicFilter<int, ExcludeIndices>(new ExcludeIndices([0, 1]), 50);
        Assert.Equal([2, 3], Allowed(filter, 4));
    }

    [Fact]
    public void The_share_is_of_the_candidates_it_was_given_and_what_it_was_not_given_stays_out()
    {
        // Node 0 was tried (a retry); of the three left the inner filter keeps one: a third, below half.
        var filter = new PanicFilter<int, ExcludeIndices>(new ExcludeIndices([1, 2]), 50);
        Assert.Equal([1, 2, 3], Allowed(filter, 4, tried: 0));
    }

    [Fact]
    public void A_threshold_of_zero_never_panics()
    {
        var filter = new PanicFilter<int, ExcludeIndices>(new ExcludeIndices([0, 1, 2, 3]), 0);
        Assert.Empty(Allowed(filter, 4));
        Assert.Equal(0, filter.PanicPicks);
    }

    [Fact]
    public void It_works_past_one_word_and_past_the_stack_limit()
    {
        int[] most = [.. Enumerable.Range(0, 70_000).Where(i => i % 1000 != 0)];
        var filter = new PanicFilter<int, ExcludeIndices>(new ExcludeIndices(most), 50);
        int[] nodes = new int[70_000];
        ulong[] bits = new ulong[CandidateMask.WordsFor(nodes.Length)];
        var mask = new CandidateMask(bits, nodes.Length);
        filter.Apply(nodes, SelectionContext.Empty, mask);
        Assert.Equal(nodes.Length, mask.CountAllowed());
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(100.5)]
    [InlineData(double.NaN)]
    public void A_threshold_outside_0_to_100_is_refused_with_the_parameter_named(double threshold)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new PanicFilter<int, ExcludeIndices>(new ExcludeIndices([]), threshold));
        Assert.Equal("thresholdPercent", e.ParamName);
    }

    [Fact]
    public void A_pick_through_it_allocates_nothing()
    {
        var filter = new PanicFilter<int, ExcludeIndices>(new ExcludeIndices([0, 1, 2]), 50);
        int[] nodes = new int[4];
        var strategy = new RoundRobin<int>();
        Filter.TrySelect(nodes, SelectionContext.Empty, filter, strategy, out _);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000; i++)
        {
            Filter.TrySelect(nodes, SelectionContext.Empty, filter, strategy, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
