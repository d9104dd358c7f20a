namespace Loadwise.Tests.Filters;

public class HealthFilterTests
{
    public static TheoryData<int> Sizes() => [0, 1, 63, 64, 65, 1000];

    private static bool[] Allowed(HealthFilter<Backend, string, NodeAccessor<Backend, string>> filter, Backend[] nodes)
    {
        Span<ulong> bits = stackalloc ulong[CandidateMask.WordsFor(nodes.Length)];
        var mask = new CandidateMask(bits, nodes.Length);
        filter.Apply(nodes, SelectionContext.Empty, mask);
        var allowed = new bool[nodes.Length];
        for (int i = 0; i < nodes.Length; i++)
        {
            allowed[i] = mask.IsAllowed(i);
        }

        return allowed;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Available_excludes_unhealthy_and_rate_limited_healthy_only_excludes_more(int n)
    {
        var time = new ManualTimeProvider();
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { TimeProvider = time, Policy = new ConsecutiveFailurePolicy(2) });
        Backend[] nodes = HealthNodes.Make(n);
        for (int i = 0; i < n; i++)
        {
            switch (i % 5)
            {
                case 1: tracker.ReportFailure(nodes[i].Id); break; // Degraded
                case 2: tracker.ReportFailure(nodes[i].Id); tracker.ReportFailure(nodes[i].Id); break; // Unhealthy
                case 3: tracker.ReportFailure(nodes[i].Id); tracker.ReportFailure(nodes[i].Id); tracker.ReportSuccess(nodes[i].Id); break; // Recovering
                case 4: tracker.ReportRateLimited(nodes[i].Id, TimeSpan.FromSeconds(1)); break;
            }
        }

        var available = new HealthFilter<Backend, string, NodeAccessor<Backend, string>>(tracker);
        var healthyOnly = new HealthFilter<Backend, string, NodeAccessor<Backend, string>>(tracker, HealthRequirement.HealthyOnly);
        Assert.Equal(Enumerable.Range(0, n).Select(i => i % 5 is 0 or 1 or 3), Allowed(available, nodes));
        Assert.Equal(Enumerable.Range(0, n).Select(i => i % 5 == 0), Allowed(healthyOnly, nodes));

        // The rate limits expire: the cached bits follow the clock.
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(Enumerable.Range(0, n).Select(i => i % 5 is 0 or 1 or 3 or 4), Allowed(available, nodes));
    }

    [Fact]
    public void Status_changes_show_up_on_the_next_pick()
    {
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { Policy = new ConsecutiveFailurePolicy(1, 1) });
        Backend[] nodes = HealthNodes.Make(3);
        var filter = new HealthFilter<Backend, string, NodeAccessor<Backend, string>>(tracker);
        Assert.Equal([true, true, true], Allowed(filter, nodes));
        tracker.ReportFailure("n1");
        Assert.Equal([true, false, true], Allowed(filter, nodes));
        tracker.ReportSuccess("n1"); // Recovering: available again
        Assert.Equal([true, true, true], Allowed(filter, nodes));
        tracker.ReportFailure("n1");
        tracker.Remove("n1"); // forgotten: Healthy again, and the filter re-resolves its handles
        Assert.Equal([true, true, true], Allowed(filter, nodes));
        tracker.ReportFailure("n1");
        Assert.Equal([true, false, true], Allowed(filter, nodes));
    }

    [Fact]
    public void A_replaced_candidate_is_noticed_within_n_picks()
    {
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { Policy = new ConsecutiveFailurePolicy(1) });
        tracker.ReportFailure("sick");
        var filter = new HealthFilter<Backend, string, NodeAccessor<Backend, string>>(tracker);
        Backend[] before = HealthNodes.Make(4);
        Assert.Equal([true, true, true, true], Allowed(filter, before));

        Backend[] after = [before[0], new Backend("sick"), before[2], before[3]];
        bool excluded = false;
        for (int pick = 0; pick <= after.Length && !excluded; pick++)
        {
            excluded = !Allowed(filter, after)[1];
        }

        Assert.True(excluded);
        Assert.Equal([true, false, true, true], Allowed(filter, after));
    }

    [Fact]
    public void Filtered_power_of_two_choices_never_picks_an_unavailable_node()
    {
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { Policy = new ConsecutiveFailurePolicy(1) });
        Backend[] nodes = HealthNodes.Make(64);
        for (int i = 0; i < 64; i += 3)
        {
            tracker.ReportFailure(nodes[i].Id);
        }

        var strategy = new FilteredStrategy<Backend, HealthFilter<Backend, string, NodeAccessor<Backend, string>>, PowerOfTwoChoices<Backend, LoadAccessor<Backend>>>(
            new(tracker), PowerOfTwoChoices.For<Backend>(seed: 1));
        for (int pick = 0; pick < 2_000; pick++)
        {
            Assert.True(strategy.TrySelect(nodes, SelectionContext.Empty, out int index));
            Assert.NotEqual(0, index % 3);
        }

        for (int i = 0; i < 64; i++)
        {
            tracker.ReportFailure(nodes[i].Id);
        }

        Assert.False(strategy.TrySelect(nodes, SelectionContext.Empty, out int none));
        Assert.Equal(-1, none);
    }
}
