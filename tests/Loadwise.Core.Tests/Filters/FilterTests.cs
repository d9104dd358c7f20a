namespace Loadwise.Tests.Filters;

public readonly struct EvenIndex : INodePredicate<int>
{
    public static bool Matches(in int node) => node % 2 == 0;
}

public readonly struct MultipleOfThree : INodePredicate<int>
{
    public static bool Matches(in int node) => node % 3 == 0;
}

public readonly struct MultipleOfFive : INodePredicate<int>
{
    public static bool Matches(in int node) => node % 5 == 0;
}

public class FilterTests
{
    public static TheoryData<int> Sizes() => [0, 1, 63, 64, 65, 1000];

    private static int[] Values(int n) => Enumerable.Range(0, n).ToArray();

    private static bool[] Apply<TFilter>(TFilter filter, int[] nodes, Func<int, bool>? preMask = null)
        where TFilter : ICandidateFilter<int>
    {
        Span<ulong> bits = stackalloc ulong[CandidateMask.WordsFor(nodes.Length)];
        var mask = new CandidateMask(bits, nodes.Length);
        if (preMask is not null)
        {
            for (int i = 0; i < nodes.Length; i++)
            {
                if (!preMask(i))
                {
                    mask.Exclude(i);
                }
            }
        }

        filter.Apply(nodes, SelectionContext.Empty, mask);
        var allowed = new bool[nodes.Length];
        for (int i = 0; i < nodes.Length; i++)
        {
            allowed[i] = mask.IsAllowed(i);
        }

        return allowed;
    }

    private static bool[] Expected(int n, Func<int, bool> rule) => Enumerable.Range(0, n).Select(rule).ToArray();

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Predicate_filters_keep_exactly_the_matching_candidates(int n)
    {
        int[] nodes = Values(n);
        Assert.Equal(Expected(n, i => i % 2 == 0), Apply(Filter<int>.Where<EvenIndex>(), nodes));
        Assert.Equal(Expected(n, i => i % 3 == 0), Apply(Filter<int>.Where(static v => v % 3 == 0), nodes));
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Combinators_match_boolean_algebra(int n)
    {
        int[] nodes = Values(n);
        var even = Filter<int>.Where<EvenIndex>();
        var three = Filter<int>.Where<MultipleOfThree>();
        var five = Filter<int>.Where<MultipleOfFive>();

        Assert.Equal(Expected(n, i => i % 2 == 0 && i % 3 == 0), Apply(Filter<int>.AllOf(even, three), nodes));
        Assert.Equal(Expected(n, i => i % 2 == 0 || i % 3 == 0), Apply(Filter<int>.AnyOf(even, three), nodes));
        Assert.Equal(Expected(n, i => i % 2 != 0), Apply(Filter<int>.Not(even), nodes));
        Assert.Equal(Expected(n, i => !(i % 2 == 0 || i % 3 == 0)), Apply(Filter<int>.Not(Filter<int>.AnyOf(even, three)), nodes));
        Assert.Equal(Expected(n, i => i % 2 != 0 && i % 3 == 0), Apply(Filter<int>.AllOf(Filter<int>.Not(even), three), nodes));
        Assert.Equal(Expected(n, i => i % 2 != 0 || i % 3 != 0), Apply(Filter<int>.AnyOf(Filter<int>.Not(even), Filter<int>.Not(three)), nodes));
        Assert.Equal(Expected(n, i => (i % 2 == 0 && i % 3 == 0) || i % 5 == 0), Apply(Filter<int>.AnyOf(Filter<int>.AllOf(even, three), five), nodes));
        Assert.Equal(Expected(n, i => i % 2 == 0), Apply(Filter<int>.Not(Filter<int>.Not(even)), nodes));
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Combinators_never_re_allow_what_the_mask_already_excluded(int n)
    {
        int[] nodes = Values(n);
        static bool PreMask(int i) => i % 7 != 0;
        var even = Filter<int>.Where<EvenIndex>();
        var three = Filter<int>.Where<MultipleOfThree>();

        Assert.Equal(Expected(n, i => PreMask(i) && (i % 2 == 0 || i % 3 == 0)), Apply(Filter<int>.AnyOf(even, three), nodes, PreMask));
        Assert.Equal(Expected(n, i => PreMask(i) && i % 2 != 0), Apply(Filter<int>.Not(even), nodes, PreMask));
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Filter_plus_select_never_picks_an_excluded_candidate_and_honours_the_context_mask(int n)
    {
        int[] nodes = Values(n);
        var strategy = new RoundRobin<int>();
        var filter = Filter<int>.Where<EvenIndex>();
        Span<ulong> bits = stackalloc ulong[CandidateMask.WordsFor(n)];
        var contextMask = new CandidateMask(bits, n);
        for (int i = 0; i < n; i += 4)
        {
            contextMask.Exclude(i); // e.g. candidates already tried
        }

        var context = new SelectionContext { Mask = contextMask };
        var picked = new HashSet<int>();
        for (int pick = 0; pick < Math.Max(1, 2 * n); pick++)
        {
            bool found = Filter.TrySelect(nodes, in context, filter, strategy, out int index);
            if (n == 0)
            {
                Assert.False(found);
                Assert.Equal(-1, index);
                return;
            }

            bool anyEligible = Enumerable.Range(0, n).Any(i => i % 2 == 0 && i % 4 != 0);
            Assert.Equal(anyEligible, found);
            if (found)
            {
                Assert.True(index % 2 == 0 && index % 4 != 0, $"picked excluded index {index}");
                picked.Add(index);
            }
        }

        Assert.Equal(Enumerable.Range(0, n).Count(i => i % 2 == 0 && i % 4 != 0), picked.Count);
    }

    [Fact]
    public void A_mask_for_another_candidate_count_is_rejected()
    {
        int[] nodes = Values(10);
        Span<ulong> bits = stackalloc ulong[1];
        var mask = new CandidateMask(bits, 9);
        try
        {
            Filter<int>.Where<EvenIndex>().Apply(nodes, SelectionContext.Empty, mask);
            Assert.Fail("expected an ArgumentException");
        }
        catch (ArgumentException error)
        {
            Assert.Contains("9", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void FilteredStrategy_is_a_strategy_named_after_its_inner_strategy()
    {
        var strategy = new FilteredStrategy<int, PredicateFilter<int, EvenIndex>, RoundRobin<int>>(default, new RoundRobin<int>());
        Assert.Equal("RoundRobin", strategy.Name);
        int[] nodes = Values(5);
        var picks = new List<int>();
        for (int i = 0; i < 6; i++)
        {
            Assert.True(strategy.TrySelect(nodes, SelectionContext.Empty, out int index));
            picks.Add(index);
        }

        Assert.All(picks, p => Assert.Equal(0, p % 2));
        Assert.Equal([0, 2, 4], picks.Distinct().Order());
    }

    [Fact]
    public void Null_arguments_are_rejected()
    {
        Assert.Throws<ArgumentNullException>(() => new PredicateFilter<int>(null!));
        Assert.Throws<ArgumentNullException>(() => new HealthFilter<Backend, string, NodeAccessor<Backend, string>>(null!));
        Assert.Throws<ArgumentNullException>(() => new FilteredStrategy<int, PredicateFilter<int>, RoundRobin<int>>(default, null!));
    }
}
