namespace Loadwise.Tests.Filters;

public sealed record Provider(string Id, NodeQuota Quota) : INode<string>, IRemainingCapacity
{
    public double RemainingRatio => Quota.RemainingRatio;
}

/// <summary>Filter + select must allocate nothing in steady state (GC.GetAllocatedBytesForCurrentThread over 10,000 picks).</summary>
public class AllocationTests
{
    private const int Picks = 10_000;

    private static long AllocatedBy(Action<int> pick)
    {
        for (int i = 0; i < 2_000; i++)
        {
            pick(i); // warm up: snapshots built, JIT tiers settled
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Picks; i++)
        {
            pick(i);
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void Health_filter_plus_power_of_two_choices_allocates_nothing()
    {
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { Policy = new ConsecutiveFailurePolicy(1) });
        Backend[] nodes = HealthNodes.Make(64);
        for (int i = 0; i < 64; i += 5)
        {
            tracker.ReportFailure(nodes[i].Id);
        }

        tracker.ReportRateLimited(nodes[1].Id, TimeSpan.FromHours(1)); // keeps the clock-read path live
        var strategy = new FilteredStrategy<Backend, HealthFilter<Backend, string, NodeAccessor<Backend, string>>, PowerOfTwoChoices<Backend, LoadAccessor<Backend>>>(
            new(tracker), PowerOfTwoChoices.For<Backend>());
        int sink = 0;
        long allocated = AllocatedBy(_ => sink += strategy.TrySelect(nodes, SelectionContext.Empty, out int index) ? index : 0);
        Assert.Equal(0, allocated);
        Assert.True(sink > 0);
    }

    [Fact]
    public void Composed_filters_with_quota_and_most_available_allocate_nothing()
    {
        var time = new ManualTimeProvider();
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { TimeProvider = time });
        var quotas = new QuotaTracker<string>([QuotaLimit.RequestsPerMinute(1_000_000), QuotaLimit.TokensPerMinute(1e12)], time);
        Provider[] providers = Enumerable.Range(0, 1000).Select(i => new Provider($"p{i}", quotas.GetHandle($"p{i}"))).ToArray();
        var filter = Filter<Provider>.AllOf(
            new HealthFilter<Provider, string, NodeAccessor<Provider, string>>(tracker),
            Filter<Provider>.AnyOf(
                new QuotaFilter<Provider, string, NodeAccessor<Provider, string>>(quotas),
                Filter<Provider>.Not(Filter<Provider>.Where(static p => p.Id.Length > 3))));
        var strategy = MostAvailable.For<Provider>();
        int sink = 0;
        long allocated = AllocatedBy(_ =>
        {
            var context = new SelectionContext { EstimatedCost = 500 };
            if (Filter.TrySelect(providers, in context, filter, strategy, out int index))
            {
                quotas.Charge(providers[index].Id, in context).Correct(400);
                sink++;
            }
        });
        Assert.Equal(0, allocated);
        Assert.Equal(Picks + 2_000, sink);
    }

    [Fact]
    public void Status_lookup_and_instrumented_no_op_strategy_allocate_nothing()
    {
        var tracker = new HealthTracker<string>();
        Backend[] nodes = HealthNodes.Make(8);
        tracker.ReportFailure(nodes[3].Id);
        var strategy = new InstrumentedStrategy<Backend, RoundRobin<Backend>>(new RoundRobin<Backend>(), NoOpMetricsCollector.Instance);
        int sink = 0;
        long allocated = AllocatedBy(i =>
        {
            sink += (int)tracker.GetStatus(nodes[i & 7].Id);
            sink += strategy.TrySelect(nodes, SelectionContext.Empty, out int index) ? index : 0;
        });
        Assert.Equal(0, allocated);
        Assert.True(sink > 0);
    }
}
