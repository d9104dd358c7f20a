namespace Loadwise.Tests.Health;

public class HealthTrackerTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);

    private static (HealthTracker<string> Tracker, ManualTimeProvider Time, RecordingMetrics Metrics) Create(int threshold = 3, int recovery = 2, TimeSpan? probe = null)
    {
        var time = new ManualTimeProvider();
        var metrics = new RecordingMetrics();
        var tracker = new HealthTracker<string>(new HealthTrackerOptions
        {
            Policy = new ConsecutiveFailurePolicy(threshold, recovery, probe),
            TimeProvider = time,
            Metrics = metrics,
        });
        return (tracker, time, metrics);
    }

    [Fact]
    public void A_node_never_seen_is_healthy_and_available()
    {
        var (tracker, _, _) = Create();
        Assert.Equal(HealthStatus.Healthy, tracker.GetStatus("never-seen"));
        Assert.True(tracker.IsAvailable("never-seen"));
        Assert.Equal(HealthState.Initial, tracker.GetState("never-seen"));
        Assert.False(tracker.ShouldProbe("never-seen"));
        Assert.Equal(0, tracker.CountByStatus().Total); // a lookup does not create entries
    }

    [Fact]
    public void Status_changes_raise_events_and_the_metrics_hook()
    {
        var (tracker, _, metrics) = Create();
        var events = new List<HealthChangedEventArgs<string>>();
        tracker.HealthChanged += (_, e) => events.Add(e);

        tracker.ReportFailure("a");
        tracker.ReportFailure("a");
        tracker.ReportFailure("a");
        tracker.ReportSuccess("a");

        Assert.Equal(
            [(HealthStatus.Healthy, HealthStatus.Degraded), (HealthStatus.Degraded, HealthStatus.Unhealthy), (HealthStatus.Unhealthy, HealthStatus.Recovering)],
            events.Select(e => (e.From, e.To)));
        Assert.All(events, e => Assert.Equal("a", e.NodeId));
        Assert.Equal(events.Select(e => ((object)e.NodeId, e.From, e.To)), metrics.Changes);
        Assert.Equal(new HealthStatusCounts(0, 0, 0, 1), tracker.CountByStatus());
    }

    [Fact]
    public void ShouldProbe_turns_true_exactly_at_the_probe_interval()
    {
        var (tracker, time, _) = Create(threshold: 1, probe: TimeSpan.FromSeconds(10));
        tracker.ReportFailure("a");
        Assert.Equal(HealthStatus.Unhealthy, tracker.GetStatus("a"));
        Assert.False(tracker.ShouldProbe("a"));

        time.Advance(TimeSpan.FromSeconds(10) - Tick);
        Assert.False(tracker.ShouldProbe("a"));
        time.Advance(Tick);
        Assert.True(tracker.ShouldProbe("a"));

        // A failed probe restarts the interval.
        tracker.ReportFailure("a");
        Assert.False(tracker.ShouldProbe("a"));
        time.Advance(TimeSpan.FromSeconds(10) - Tick);
        Assert.False(tracker.ShouldProbe("a"));
        time.Advance(Tick);
        Assert.True(tracker.ShouldProbe("a"));

        // A successful probe leaves Unhealthy: no more probes.
        tracker.ReportSuccess("a");
        Assert.Equal(HealthStatus.Recovering, tracker.GetStatus("a"));
        Assert.False(tracker.ShouldProbe("a"));
    }

    [Fact]
    public void TryBeginProbe_lets_one_caller_probe_per_interval()
    {
        var (tracker, time, _) = Create(threshold: 1, probe: TimeSpan.FromSeconds(5));
        tracker.ReportFailure("a");
        Assert.False(tracker.TryBeginProbe("a"));
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(tracker.TryBeginProbe("a"));
        Assert.False(tracker.TryBeginProbe("a"));
        Assert.False(tracker.ShouldProbe("a"));
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(tracker.TryBeginProbe("a"));
    }

    [Fact]
    public void Healthy_and_degraded_nodes_are_never_probed()
    {
        var (tracker, time, _) = Create();
        tracker.ReportFailure("a");
        tracker.ReportFailure("a");
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(HealthStatus.Degraded, tracker.GetStatus("a"));
        Assert.False(tracker.ShouldProbe("a"));
    }

    [Fact]
    public void Rate_limited_node_comes_back_exactly_at_retry_after_and_is_not_a_failure()
    {
        var (tracker, time, metrics) = Create();
        tracker.ReportFailure("a"); // one failure before: the rate limit must not add to it
        tracker.ReportRateLimited("a", TimeSpan.FromSeconds(20));

        Assert.False(tracker.IsAvailable("a"));
        Assert.True(tracker.GetHandle("a").IsRateLimited);
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(20), tracker.GetHandle("a").RetryAt);
        Assert.Equal(HealthStatus.Healthy, tracker.GetStatus("a"));
        Assert.Equal(1, tracker.GetState("a").ConsecutiveFailures);
        Assert.Empty(metrics.Changes);

        time.Advance(TimeSpan.FromSeconds(20) - Tick);
        Assert.False(tracker.IsAvailable("a"));
        time.Advance(Tick);
        Assert.True(tracker.IsAvailable("a"));
        Assert.Null(tracker.GetHandle("a").RetryAt);
    }

    [Fact]
    public void Rate_limited_without_retry_after_uses_the_default()
    {
        var time = new ManualTimeProvider();
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { TimeProvider = time, DefaultRetryAfter = TimeSpan.FromSeconds(3) });
        tracker.Report("a", Outcome.RateLimited());
        time.Advance(TimeSpan.FromSeconds(3) - Tick);
        Assert.False(tracker.IsAvailable("a"));
        time.Advance(Tick);
        Assert.True(tracker.IsAvailable("a"));
    }

    [Fact]
    public void Negative_retry_after_is_rejected()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Outcome.RateLimited(TimeSpan.FromSeconds(-1)));
        Assert.Equal("retryAfter", error.ParamName);
    }

    [Fact]
    public void A_success_after_a_run_of_steady_successes_still_resets_the_failure_count()
    {
        // Successes on a steady healthy node skip the lock; one after a failure must still reach the policy.
        var (tracker, _, _) = Create(threshold: 3);
        for (int i = 0; i < 5; i++)
        {
            tracker.ReportSuccess("a");
        }

        tracker.ReportFailure("a");
        tracker.ReportFailure("a");
        tracker.ReportSuccess("a");
        Assert.Equal(new HealthState(HealthStatus.Healthy, 0, 0), tracker.GetState("a"));
        tracker.ReportFailure("a");
        tracker.ReportFailure("a");
        Assert.Equal(HealthStatus.Degraded, tracker.GetStatus("a"));
        Assert.Equal(2, tracker.GetState("a").ConsecutiveFailures);
    }

    [Fact]
    public void A_policy_that_counts_successes_sees_every_one()
    {
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { Policy = new CountingPolicy(), TimeProvider = new ManualTimeProvider() });
        for (int i = 0; i < 5; i++)
        {
            tracker.ReportSuccess("a");
        }

        Assert.Equal(5, tracker.GetState("a").ConsecutiveSuccesses);
    }

    [Fact]
    public void A_success_that_leaves_a_node_unhealthy_still_restarts_its_probe_interval()
    {
        var time = new ManualTimeProvider();
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { Policy = new StickyUnhealthyPolicy(), TimeProvider = time });
        tracker.ReportFailure("a");
        time.Advance(TimeSpan.FromSeconds(5));
        tracker.ReportSuccess("a");
        Assert.Equal(HealthStatus.Unhealthy, tracker.GetStatus("a"));
        time.Advance(TimeSpan.FromSeconds(6));
        Assert.False(tracker.ShouldProbe("a")); // 6 s since the success, not 11 s since the failure
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.True(tracker.ShouldProbe("a"));
    }

    /// <summary>Counts successes while healthy, so a success always changes the state.</summary>
    private sealed class CountingPolicy : IHealthPolicy
    {
        public TimeSpan ProbeInterval => TimeSpan.FromSeconds(10);

        public HealthState Next(HealthState state, bool success) =>
            success ? state with { ConsecutiveSuccesses = state.ConsecutiveSuccesses + 1 } : new(HealthStatus.Unhealthy, 1, 0);
    }

    /// <summary>Unhealthy stays Unhealthy whatever happens; each outcome restarts the probe interval.</summary>
    private sealed class StickyUnhealthyPolicy : IHealthPolicy
    {
        public TimeSpan ProbeInterval => TimeSpan.FromSeconds(10);

        public HealthState Next(HealthState state, bool success) => new(HealthStatus.Unhealthy, 1, 0);
    }

    [Fact]
    public void Handles_are_stable_and_Remove_detaches_them()
    {
        var (tracker, _, _) = Create(threshold: 1);
        NodeHealth<string> handle = tracker.GetHandle("a");
        Assert.Same(handle, tracker.GetHandle("a"));
        tracker.ReportFailure("a");
        Assert.Equal(HealthStatus.Unhealthy, handle.Status);
        Assert.False(handle.IsAvailable);

        Assert.True(tracker.Remove("a"));
        Assert.False(tracker.Remove("a"));
        Assert.Equal(HealthStatus.Healthy, tracker.GetStatus("a"));
        Assert.NotSame(handle, tracker.GetHandle("a"));
        Assert.Equal(new HealthStatusCounts(1, 0, 0, 0), tracker.CountByStatus());
    }

    [Fact]
    public void Options_are_validated()
    {
        Assert.Throws<ArgumentException>(() => new HealthTracker<string>(new HealthTrackerOptions { Policy = null! }));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new HealthTracker<string>(new HealthTrackerOptions { DefaultRetryAfter = TimeSpan.FromSeconds(-1) }));
        Assert.Equal("options", error.ParamName);
    }

    [Fact]
    public async Task Concurrent_reports_and_reads_never_tear_or_throw()
    {
        const int Writers = 4;
        const int Readers = 2;
        const int ReportsPerWriter = 20_000;
        var time = new ManualTimeProvider();
        var policy = new ConsecutiveFailurePolicy(4, 3);
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { Policy = policy, TimeProvider = time });
        Backend[] nodes = HealthNodes.Make(8);
        var filter = new HealthFilter<Backend, string, NodeAccessor<Backend, string>>(tracker);
        var strategy = new RoundRobin<Backend>();
        int events = 0;
        tracker.HealthChanged += (_, _) => Interlocked.Increment(ref events);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        int writersDone = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();

        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() =>
        {
            var random = new System.Random(w);
            for (int i = 0; i < ReportsPerWriter && !stop.IsCancellationRequested; i++)
            {
                string id = nodes[random.Next(nodes.Length)].Id;
                switch (random.Next(10))
                {
                    case < 5: tracker.ReportFailure(id); break;
                    case < 9: tracker.ReportSuccess(id); break;
                    default: tracker.ReportRateLimited(id, TimeSpan.FromMilliseconds(1)); break;
                }
            }

            Interlocked.Increment(ref writersDone);
        })).ToArray();

        var readers = Enumerable.Range(0, Readers).Select(_ => Task.Run(() =>
        {
            while (Volatile.Read(ref writersDone) < Writers && !stop.IsCancellationRequested)
            {
                foreach (Backend node in nodes)
                {
                    HealthStatus status = tracker.GetStatus(node.Id);
                    if (!Enum.IsDefined(status))
                    {
                        failures.Enqueue($"torn status {(int)status}");
                    }

                    HealthState state = tracker.GetState(node.Id);
                    bool consistent = state.Status switch
                    {
                        HealthStatus.Healthy => state.ConsecutiveFailures < policy.DegradedThreshold,
                        HealthStatus.Degraded => state.ConsecutiveFailures >= policy.DegradedThreshold && state.ConsecutiveFailures < policy.FailureThreshold,
                        HealthStatus.Unhealthy => state.ConsecutiveFailures >= 1,
                        HealthStatus.Recovering => state.ConsecutiveSuccesses < policy.RecoverySuccesses,
                        _ => false,
                    };
                    if (!consistent)
                    {
                        failures.Enqueue($"inconsistent state {state}");
                    }
                }

                if (Filter.TrySelect(nodes, SelectionContext.Empty, filter, strategy, out int index) && tracker.GetStatus(nodes[index].Id) == (HealthStatus)(-1))
                {
                    failures.Enqueue("impossible");
                }
            }
        })).ToArray();

        await Task.WhenAll([.. writers, .. readers]);
        Assert.False(stop.IsCancellationRequested, "the test ran out of time");
        Assert.Empty(failures);

        // Every transition was counted exactly once: the per-status counts equal a recount.
        var recount = new int[4];
        foreach (Backend node in nodes)
        {
            recount[(int)tracker.GetStatus(node.Id)]++;
        }

        HealthStatusCounts counts = tracker.CountByStatus();
        Assert.Equal(recount, new[] { counts.Healthy, counts.Degraded, counts.Unhealthy, counts.Recovering });
        Assert.True(events > 0);
    }
}

public class SystemClockTests
{
    // The system clock path reads Environment.TickCount64 (millisecond resolution): a short rate limit still ends.
    [Fact]
    public void Rate_limit_on_the_system_clock_ends_after_retry_after()
    {
        var tracker = new HealthTracker<string>();
        var started = System.Diagnostics.Stopwatch.StartNew();
        tracker.ReportRateLimited("a", TimeSpan.FromMilliseconds(50));
        Assert.False(tracker.IsAvailable("a"));
        while (!tracker.IsAvailable("a") && started.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(5);
        }

        Assert.True(tracker.IsAvailable("a"));
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(40), $"came back after {started.Elapsed}");
    }

    [Fact]
    public void Quota_usage_on_the_system_clock_is_recorded()
    {
        var quotas = new QuotaTracker<string>([QuotaLimit.RequestsPerMinute(2)]);
        Assert.True(quotas.TryCharge("a", 0, out _));
        Assert.True(quotas.TryCharge("a", 0, out _));
        Assert.False(quotas.CanAccept("a", 0));
        Assert.InRange(quotas.GetRemainingRatio("a"), 0, 0.01);
    }
}
