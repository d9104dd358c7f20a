namespace Loadwise.Tests.State;

public class NodeStateMergeTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_higher_version_wins_even_with_an_older_wall_clock()
    {
        var newer = new NodeState { Version = 5, UpdatedAt = T0, Writer = "a" };
        var older = new NodeState { Version = 4, UpdatedAt = T0.AddMinutes(1), Writer = "b" };

        Assert.True(newer.Supersedes(older));
        Assert.False(older.Supersedes(newer));
    }

    [Fact]
    public void Equal_versions_are_ordered_by_time_then_by_writer()
    {
        var early = new NodeState { Version = 3, UpdatedAt = T0, Writer = "b" };
        var late = new NodeState { Version = 3, UpdatedAt = T0.AddMilliseconds(1), Writer = "a" };
        var sameTimeOtherWriter = new NodeState { Version = 3, UpdatedAt = T0, Writer = "c" };

        Assert.True(late.Supersedes(early));
        Assert.False(early.Supersedes(late));
        Assert.True(sameTimeOtherWriter.Supersedes(early));
        Assert.False(early.Supersedes(sameTimeOtherWriter));
        Assert.False(early.Supersedes(early with { }));
        Assert.True(early.Supersedes(null));
    }

    [Fact]
    public void Each_status_change_and_rate_limit_raises_the_captured_version()
    {
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { Policy = new ConsecutiveFailurePolicy(1) });
        long initial = tracker.CaptureState("a").Version;

        tracker.ReportFailure("a");
        long afterFailure = tracker.CaptureState("a").Version;
        tracker.ReportRateLimited("a", TimeSpan.FromSeconds(1));
        long afterLimit = tracker.CaptureState("a").Version;

        Assert.Equal(0, initial);
        Assert.Equal(1, afterFailure);
        Assert.Equal(2, afterLimit);
        Assert.Equal(afterLimit, tracker.CaptureState("a").Version); // capturing twice changes nothing
    }

    [Fact]
    public void A_change_made_after_applying_a_stored_state_outranks_it()
    {
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { Policy = new ConsecutiveFailurePolicy(1) });
        var remote = new NodeState { Status = HealthStatus.Unhealthy, ConsecutiveFailures = 1, Version = 41, UpdatedAt = DateTimeOffset.UtcNow.AddHours(1), Writer = "other" };

        tracker.Apply("a", remote);
        tracker.Report("a", Outcome.Success); // Unhealthy -> Recovering: a local change after seeing version 41
        NodeState local = tracker.CaptureState("a");

        Assert.Equal(42, local.Version);
        Assert.True(local.Supersedes(remote)); // despite the remote wall clock being an hour ahead
        Assert.False(remote.Supersedes(local));
    }

    [Fact]
    public void Applying_an_older_version_never_lowers_the_clock()
    {
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { Policy = new ConsecutiveFailurePolicy(1) });
        tracker.Apply("a", new NodeState { Status = HealthStatus.Healthy, Version = 10 });
        tracker.Apply("a", new NodeState { Status = HealthStatus.Healthy, Version = 3 });

        Assert.Equal(10, tracker.CaptureState("a").Version);
    }
}
