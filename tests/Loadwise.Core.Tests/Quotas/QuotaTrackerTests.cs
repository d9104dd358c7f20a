namespace Loadwise.Tests.Quotas;

public class QuotaTrackerTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    [Fact]
    public void Window_rolls_over_sliding_out_the_previous_window_linearly()
    {
        var time = new ManualTimeProvider(); // starts on a whole minute, so windows start at 0 s, 60 s, ...
        var quotas = new QuotaTracker<string>([QuotaLimit.RequestsPerMinute(60)], time);
        for (int i = 0; i < 60; i++)
        {
            Assert.True(quotas.CanAccept("a", 0));
            quotas.Charge("a", 0);
        }

        Assert.False(quotas.CanAccept("a", 0));
        Assert.Equal(60, quotas.GetUsage("a", QuotaLimit.RequestsName));

        time.Advance(Minute); // new window; the previous one still weighs fully
        Assert.Equal(60, quotas.GetUsage("a", QuotaLimit.RequestsName));
        Assert.False(quotas.CanAccept("a", 0));

        time.Advance(TimeSpan.FromSeconds(30)); // half of the previous window has slid out
        Assert.Equal(30, quotas.GetUsage("a", QuotaLimit.RequestsName), 6);
        Assert.True(quotas.CanAccept("a", 0));
        Assert.Equal(0.5, quotas.GetRemainingRatio("a"), 6);

        time.Advance(TimeSpan.FromSeconds(30)); // two windows later: all gone
        Assert.Equal(0, quotas.GetUsage("a", QuotaLimit.RequestsName));
        Assert.Equal(1, quotas.GetRemainingRatio("a"));
    }

    [Fact]
    public void Charges_in_the_new_window_add_to_the_sliding_remainder()
    {
        var time = new ManualTimeProvider();
        var quotas = new QuotaTracker<string>([QuotaLimit.TokensPerMinute(1000)], time);
        quotas.Charge("a", 600);
        time.Advance(TimeSpan.FromSeconds(90)); // previous = 600, weight 0.5
        quotas.Charge("a", 100);
        Assert.Equal(400, quotas.GetUsage("a", QuotaLimit.TokensName), 6);
        time.Advance(TimeSpan.FromSeconds(30)); // previous = 100, weight 1
        Assert.Equal(100, quotas.GetUsage("a", QuotaLimit.TokensName), 6);
    }

    [Fact]
    public void Correction_replaces_the_estimate_with_the_actual_cost()
    {
        var time = new ManualTimeProvider();
        var quotas = new QuotaTracker<string>([QuotaLimit.RequestsPerMinute(100), QuotaLimit.TokensPerMinute(1000)], time);
        QuotaCharge first = quotas.Charge("a", 100);
        QuotaCharge second = quotas.Charge("a", 100);
        Assert.Equal(200, quotas.GetUsage("a", QuotaLimit.TokensName));

        first.Correct(250);
        QuotaTracker<string>.Correct(second, 40);
        Assert.Equal(290, quotas.GetUsage("a", QuotaLimit.TokensName));
        Assert.Equal(2, quotas.GetUsage("a", QuotaLimit.RequestsName)); // requests are not corrected
    }

    [Fact]
    public void A_late_correction_lands_in_the_window_of_its_charge()
    {
        var time = new ManualTimeProvider();
        var quotas = new QuotaTracker<string>([QuotaLimit.TokensPerMinute(1000)], time);
        time.Advance(TimeSpan.FromSeconds(50));
        QuotaCharge charge = quotas.Charge("a", 100);
        time.Advance(TimeSpan.FromSeconds(20)); // now 70 s: the charge's window is the previous one, weight 50/60
        charge.Correct(400);
        Assert.Equal(400 * (50.0 / 60), quotas.GetUsage("a", QuotaLimit.TokensName), 6);

        QuotaCharge old = quotas.Charge("a", 10);
        time.Advance(TimeSpan.FromMinutes(3));
        old.Correct(500); // its window has slid out entirely: dropped
        Assert.Equal(0, quotas.GetUsage("a", QuotaLimit.TokensName));
    }

    [Fact]
    public void Quota_filter_at_the_boundary()
    {
        var time = new ManualTimeProvider();
        var quotas = new QuotaTracker<string>([QuotaLimit.RequestsPerMinute(10), QuotaLimit.TokensPerMinute(1000), new QuotaLimit("images", 5, TimeSpan.FromHours(1), QuotaUnit.Manual)], time);
        Backend[] nodes = [new("tokens"), new("requests"), new("images"), new("idle")];
        quotas.Charge("tokens", 900);
        for (int i = 0; i < 9; i++)
        {
            quotas.Charge("requests", 0);
        }

        Assert.True(quotas.Record("images", "images", 5));
        Assert.False(quotas.Record("images", "videos", 1));
        var filter = new QuotaFilter<Backend, string, NodeAccessor<Backend, string>>(quotas);

        Assert.Equal([true, true, false, true], Allowed(filter, nodes, cost: 100));       // 900 + 100 = 1000 fits exactly
        Assert.Equal([false, true, false, true], Allowed(filter, nodes, cost: 100.5));   // just over
        quotas.Charge("requests", 0);                                                      // 10 of 10 requests used
        Assert.Equal([true, false, false, true], Allowed(filter, nodes, cost: 0));
        Assert.Equal([false, false, false, false], Allowed(filter, nodes, cost: 1000.5)); // over any node's whole limit
        Assert.Equal([true, false, false, true], Allowed(filter, nodes, cost: double.NaN)); // NaN costs nothing
    }

    [Fact]
    public void TryCharge_never_overshoots_under_contention()
    {
        var quotas = new QuotaTracker<string>([QuotaLimit.RequestsPerMinute(1000)], new ManualTimeProvider());
        int charged = 0;
        Parallel.For(0, 4, worker =>
        {
            for (int i = 0; i < 1000; i++)
            {
                if (quotas.TryCharge("a", 1, out _))
                {
                    Interlocked.Increment(ref charged);
                }
            }
        });
        Assert.Equal(1000, charged);
        Assert.Equal(0, quotas.GetRemainingRatio("a"));
        Assert.False(quotas.TryCharge("a", 1, out QuotaCharge none));
        Assert.Null(none.Node);
    }

    [Fact]
    public void Remaining_ratio_is_the_most_used_dimension_and_feeds_most_available()
    {
        var time = new ManualTimeProvider();
        var quotas = new QuotaTracker<string>([QuotaLimit.RequestsPerMinute(100), QuotaLimit.TokensPerMinute(1000)], time);
        quotas.Configure("big", [QuotaLimit.RequestsPerMinute(1000), QuotaLimit.TokensPerMinute(100_000)]);
        quotas.Charge("small", 750); // 25% tokens left, 99% requests left
        quotas.Charge("big", 750);   // 99.25% tokens left, 99.9% requests left
        Assert.Equal(0.25, quotas.GetRemainingRatio("small"), 6);
        Assert.Equal(0.9925, quotas.GetRemainingRatio("big"), 6);

        Filters.Provider[] providers = [new("small", quotas.GetHandle("small")), new("big", quotas.GetHandle("big"))];
        Assert.True(MostAvailable.For<Filters.Provider>().TrySelect(providers, SelectionContext.Empty, out int index));
        Assert.Equal("big", providers[index].Id);
    }

    [Fact]
    public void Reconfiguring_keeps_usage_of_unchanged_dimensions()
    {
        var time = new ManualTimeProvider();
        var quotas = new QuotaTracker<string>([QuotaLimit.TokensPerMinute(1000)], time);
        quotas.Charge("a", 500);
        quotas.Configure("a", [QuotaLimit.TokensPerMinute(2000), QuotaLimit.RequestsPerMinute(10)]);
        Assert.Equal(500, quotas.GetUsage("a", QuotaLimit.TokensName));
        Assert.Equal(0.75, quotas.GetRemainingRatio("a"), 6);
        Assert.Equal(2, quotas.GetHandle("a").Limits.Count);
    }

    [Fact]
    public void Nodes_without_limits_are_unlimited()
    {
        var quotas = new QuotaTracker<string>();
        quotas.Charge("a", 1e9);
        Assert.True(quotas.CanAccept("a", 1e9));
        Assert.Equal(1, quotas.GetRemainingRatio("a"));
    }

    [Fact]
    public void Limits_are_validated()
    {
        Assert.Equal("limit", Assert.Throws<ArgumentOutOfRangeException>(() => QuotaLimit.RequestsPerMinute(0)).ParamName);
        Assert.Equal("limit", Assert.Throws<ArgumentOutOfRangeException>(() => QuotaLimit.TokensPerMinute(double.PositiveInfinity)).ParamName);
        Assert.Equal("window", Assert.Throws<ArgumentOutOfRangeException>(() => new QuotaLimit("x", 1, TimeSpan.Zero, QuotaUnit.Cost)).ParamName);
        Assert.Equal("unit", Assert.Throws<ArgumentOutOfRangeException>(() => new QuotaLimit("x", 1, Minute, (QuotaUnit)9)).ParamName);
        Assert.Throws<ArgumentException>(() => new QuotaLimit("", 1, Minute, QuotaUnit.Cost));
        var duplicate = Assert.Throws<ArgumentException>(() => new QuotaTracker<string>([QuotaLimit.RequestsPerMinute(1), QuotaLimit.RequestsPerMinute(2)]));
        Assert.Equal("defaultLimits", duplicate.ParamName);
    }

    private static bool[] Allowed(QuotaFilter<Backend, string, NodeAccessor<Backend, string>> filter, Backend[] nodes, double cost)
    {
        Span<ulong> bits = stackalloc ulong[CandidateMask.WordsFor(nodes.Length)];
        var mask = new CandidateMask(bits, nodes.Length);
        filter.Apply(nodes, new SelectionContext { EstimatedCost = cost }, mask);
        var allowed = new bool[nodes.Length];
        for (int i = 0; i < allowed.Length; i++)
        {
            allowed[i] = mask.IsAllowed(i);
        }

        return allowed;
    }
}
