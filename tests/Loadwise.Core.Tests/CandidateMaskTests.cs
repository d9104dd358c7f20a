namespace Loadwise.Tests;

public class CandidateMaskTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(63, 1)]
    [InlineData(64, 1)]
    [InlineData(65, 2)]
    [InlineData(1000, 16)]
    public void WordsFor_rounds_up(int count, int words) => Assert.Equal(words, CandidateMask.WordsFor(count));

    [Theory]
    [InlineData(1)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(1000)]
    public void Allow_exclude_count_and_invert_keep_bits_past_count_clear(int count)
    {
        Span<ulong> storage = new ulong[CandidateMask.WordsFor(count)];
        var mask = new CandidateMask(storage, count);
        Assert.Equal(count, mask.CountAllowed());
        mask.Exclude(count - 1);
        Assert.False(mask.IsAllowed(count - 1));
        Assert.Equal(count - 1, mask.CountAllowed());
        mask.Invert();
        Assert.Equal(1, mask.CountAllowed());
        Assert.True(mask.IsAllowed(count - 1));
        Assert.Equal(count - 1, mask.NthAllowed(0));
        Assert.Equal(-1, mask.NthAllowed(1));
        mask.ExcludeAll();
        Assert.Equal(-1, mask.NextAllowedWrapping(0));
    }

    [Fact]
    public void Next_allowed_wraps_and_nth_allowed_ranks()
    {
        var mask = new CandidateMask(new ulong[2], 100, allowAll: false);
        mask.Allow(5);
        mask.Allow(70);
        Assert.Equal(5, mask.NextAllowedWrapping(0));
        Assert.Equal(70, mask.NextAllowedWrapping(6));
        Assert.Equal(5, mask.NextAllowedWrapping(71));
        Assert.Equal(5, mask.NthAllowed(0));
        Assert.Equal(70, mask.NthAllowed(1));
    }

    [Fact]
    public void Set_operations_combine_masks_of_equal_size()
    {
        var a = new CandidateMask(new ulong[2], 70, allowAll: false);
        var b = new CandidateMask(new ulong[2], 70, allowAll: false);
        a.Allow(1); a.Allow(66);
        b.Allow(66); b.Allow(2);
        var both = new CandidateMask(new ulong[2], 70);
        a.CopyTo(both);
        both.IntersectWith(b);
        Assert.Equal(1, both.CountAllowed());
        Assert.True(both.IsAllowed(66));
        a.UnionWith(b);
        Assert.Equal(3, a.CountAllowed());
    }

    [Fact]
    public void Bad_arguments_name_the_parameter_and_the_fix()
    {
        var small = Assert.Throws<ArgumentException>(() => new CandidateMask(new ulong[1], 65));
        Assert.Equal("storage", small.ParamName);
        Assert.Contains("WordsFor(65)", small.Message);
        Assert.Throws<ArgumentOutOfRangeException>("count", () => new CandidateMask(new ulong[1], -1));
        var outOfRange = Assert.Throws<ArgumentOutOfRangeException>(() => new CandidateMask(new ulong[1], 3).Exclude(3));
        Assert.Equal("index", outOfRange.ParamName);
        var mismatch = Assert.Throws<ArgumentException>(() =>
            new CandidateMask(new ulong[1], 3).IntersectWith(new CandidateMask(new ulong[1], 4)));
        Assert.Equal("other", mismatch.ParamName);
    }

    [Fact]
    public void A_mask_for_another_candidate_count_is_rejected_by_every_strategy()
    {
        var nodes = Nodes.Named(4);
        foreach (var strategy in Nodes.AllStrategies())
        {
            var error = Assert.Throws<ArgumentException>(() =>
            {
                var context = new SelectionContext { Mask = new CandidateMask(new ulong[1], 3), HashKey = 1 };
                strategy.TrySelect(nodes, in context, out _);
            });
            Assert.Contains("covers 3 candidates but 4", error.Message);
        }
    }

    [Fact]
    public void Tags_are_found_without_a_dictionary()
    {
        var context = new SelectionContext { Tags = [new("region", "eu"), new("tier", "gold")] };
        Assert.True(context.TryGetTag("tier", out string? tier));
        Assert.Equal("gold", tier);
        Assert.False(context.TryGetTag("zone", out _));
    }
}
