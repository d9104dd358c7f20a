using StackExchange.Redis;

namespace Loadwise.Redis.Tests;

public sealed class SharedHealthTests(RedisServer server) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task Every_instance_excludes_a_node_within_a_second_of_the_first_ejection_and_takes_it_back_after_probes()
    {
        // Reconciles are a minute apart: within the second, only the announcement can carry the ejection.
        TimeSpan reconcile = TimeSpan.FromMinutes(1);
        await using Instance a = await Instance.StartAsync(server, "a", "eject:", reconcile: reconcile);
        await using Instance b = await Instance.StartAsync(server, "b", "eject:", reconcile: reconcile);
        await using Instance c = await Instance.StartAsync(server, "c", "eject:", reconcile: reconcile);

        a.Eject("b");
        Assert.Equal(HealthStatus.Unhealthy, a.Tracker.GetStatus("b"));
        TimeSpan took = await Eventually.HoldsAsync(
            () => !b.Tracker.IsAvailable("b") && !c.Tracker.IsAvailable("b"), TimeSpan.FromSeconds(1), "the others exclude b");
        Assert.True(b.Tracker.IsAvailable("a") && c.Tracker.IsAvailable("c"));

        // c's probes succeed: Unhealthy -> Recovering -> Healthy, each a newer version that everyone takes on.
        c.Tracker.ReportSuccess("b");
        c.Tracker.ReportSuccess("b");
        c.Tracker.ReportSuccess("b");
        await Eventually.HoldsAsync(
            () => a.Tracker.GetStatus("b") == HealthStatus.Healthy && b.Tracker.GetStatus("b") == HealthStatus.Healthy,
            TimeSpan.FromSeconds(2),
            "the fleet takes b back");
        Assert.True(took < TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task With_a_quorum_of_two_one_instance_alone_does_not_eject_for_the_fleet()
    {
        await using Instance a = await Instance.StartAsync(server, "a", "quorum:", quorum: 2);
        await using Instance b = await Instance.StartAsync(server, "b", "quorum:", quorum: 2);
        await using Instance c = await Instance.StartAsync(server, "c", "quorum:", quorum: 2);

        a.Eject("a");
        await a.Tracker.FlushAsync();
        await b.Health!.ReconcileAsync();
        await c.Health!.ReconcileAsync();
        Assert.Equal(HealthStatus.Healthy, b.Tracker.GetStatus("a"));
        Assert.Equal(HealthStatus.Healthy, c.Tracker.GetStatus("a"));

        b.Eject("a");
        await Eventually.HoldsAsync(() => c.Tracker.GetStatus("a") == HealthStatus.Unhealthy, TimeSpan.FromSeconds(1), "two votes eject a from c");
    }

    [Fact]
    public async Task The_vote_of_an_instance_that_stopped_heartbeating_no_longer_counts_toward_the_quorum()
    {
        await using Instance a = await Instance.StartAsync(server, "a", "ghost:", quorum: 2);
        await using Instance c = await Instance.StartAsync(server, "c", "ghost:", quorum: 2);
        // A crashed instance's leftovers: an Unhealthy vote on node "b" and a heartbeat long past the voter timeout
        // (three reconciles of 500 ms).
        IDatabase db = a.Connection.Multiplexer.GetDatabase();
        await db.HashSetAsync("ghost:s{loadwise:health:b}", "o:crashed", $"99:{(int)HealthStatus.Unhealthy}");
        await db.SortedSetAddAsync("ghost:voters", "crashed", 0);

        a.Eject("b");
        await a.Tracker.FlushAsync();
        await c.Health!.ReconcileAsync();
        Assert.Equal(HealthStatus.Healthy, c.Tracker.GetStatus("b")); // one live vote of the two needed

        // The same vote from an instance that heartbeats does count.
        await using Instance d = await Instance.StartAsync(server, "d", "ghost:", quorum: 2);
        d.Eject("b");
        await Eventually.HoldsAsync(() => c.Tracker.GetStatus("b") == HealthStatus.Unhealthy, TimeSpan.FromSeconds(1), "two live votes eject b from c");
    }

    [Fact]
    public async Task A_late_joiner_reads_the_shared_state_at_start()
    {
        await using Instance a = await Instance.StartAsync(server, "a", "join:");
        a.Eject("c");
        await a.Tracker.FlushAsync();

        await using Instance late = await Instance.StartAsync(server, "late", "join:");

        Assert.Equal(HealthStatus.Unhealthy, late.Tracker.GetStatus("c"));
        Assert.True(late.Health!.AppliedCount >= 1);
    }

    [Fact]
    public async Task An_instance_never_takes_back_its_own_older_write()
    {
        await using Instance a = await Instance.StartAsync(server, "a", "own:");
        await using Instance b = await Instance.StartAsync(server, "b", "own:");
        a.Eject("a");
        await Eventually.HoldsAsync(() => b.Tracker.GetStatus("a") == HealthStatus.Unhealthy, TimeSpan.FromSeconds(1), "b takes on a's ejection");

        a.Tracker.ReportSuccess("a"); // Recovering, not yet written
        await a.Health!.ReconcileAsync();

        Assert.Equal(HealthStatus.Recovering, a.Tracker.GetStatus("a"));
        Assert.Equal(0, a.Health.AppliedCount);
    }
}
