using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace Loadwise.Redis.Tests;

public sealed class OutageTests(RedisServer server) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task Redis_killed_mid_load_and_restarted_reconverges_with_one_outage_and_one_recovery_line()
    {
        long errors = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RedisStateConnection.MeterName && instrument.Name == RedisStateConnection.ErrorsName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref errors, value));
        listener.Start();

        await using Instance a = await Instance.StartAsync(server, "a", "kill:");
        await using Instance b = await Instance.StartAsync(server, "b", "kill:");
        var quotas = new SharedQuota<string>(a.Connection, [QuotaLimit.RequestsPerMinute(1_000_000)], new SharedQuotaOptions { LocalShare = 0.5 });
        int failures = 0, local = 0, shared = 0;
        using var stop = new CancellationTokenSource();
        Task load = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    _ = a.Tracker.IsAvailable("a") && b.Tracker.IsAvailable("b");
                    SharedQuotaCharge charge = await quotas.TryChargeAsync("provider", 1);
                    Interlocked.Increment(ref charge.Source == QuotaChargeSource.Local ? ref local : ref shared);
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }, TestContext.Current.CancellationToken);

        await Task.Delay(200, TestContext.Current.CancellationToken);
        server.Kill();
        await Eventually.HoldsAsync(() => !a.Connection.IsAvailable && !b.Connection.IsAvailable, TimeSpan.FromSeconds(5), "both see the outage");
        a.Eject("a"); // while Redis is out: b cannot hear of it yet
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.Equal(HealthStatus.Unhealthy, a.Tracker.GetStatus("a"));
        Assert.Equal(HealthStatus.Healthy, b.Tracker.GetStatus("a"));
        int localDuringOutage = Volatile.Read(ref local);

        await server.StartAsync();
        await Eventually.HoldsAsync(() => b.Tracker.GetStatus("a") == HealthStatus.Unhealthy, TimeSpan.FromSeconds(5), "b takes on the ejection made during the outage");
        await Eventually.HoldsAsync(() => a.Connection.IsAvailable, TimeSpan.FromSeconds(5), "a sees the recovery");
        int sharedBefore = Volatile.Read(ref shared);
        await Eventually.HoldsAsync(() => Volatile.Read(ref shared) > sharedBefore + 10, TimeSpan.FromSeconds(5), "quotas are shared again");
        await stop.CancelAsync();
        await load;

        Assert.Equal(0, failures);
        Assert.True(localDuringOutage > 0, "charges fell back to the local share");
        Assert.Equal(0, a.Store.PendingCount);
        foreach (Instance instance in new[] { a, b })
        {
            Assert.Equal(1, instance.Log.Count(LogLevel.Warning));
            Assert.Equal(1, instance.Log.Count(LogLevel.Information));
        }

        Assert.True(Interlocked.Read(ref errors) > 0);
    }

    [Fact]
    public async Task Fail_closed_denies_while_redis_is_out_and_fail_open_admits_only_the_local_share()
    {
        await using Instance a = await Instance.StartAsync(server, "a", "policy:");
        QuotaLimit[] limits = [QuotaLimit.RequestsPerMinute(100)];
        var open = new SharedQuota<string>(a.Connection, limits, new SharedQuotaOptions { LocalShare = 0.1 });
        var closed = new SharedQuota<string>(a.Connection, limits, new SharedQuotaOptions { OutagePolicy = QuotaOutagePolicy.FailClosed });
        Assert.Equal(QuotaChargeSource.Redis, (await closed.TryChargeAsync("p", 0)).Source);

        server.Kill();
        await Eventually.HoldsAsync(() => !a.Connection.IsAvailable, TimeSpan.FromSeconds(5), "the outage is seen");
        int admitted = 0;
        for (int i = 0; i < 50; i++)
        {
            admitted += (await open.TryChargeAsync("p", 0)).Admitted ? 1 : 0;
        }

        SharedQuotaCharge denied = await closed.TryChargeAsync("p", 0);
        await server.StartAsync();
        await Eventually.HoldsAsync(() => a.Connection.IsAvailable, TimeSpan.FromSeconds(5), "the recovery is seen");

        Assert.Equal(10, admitted);
        Assert.False(denied.Admitted);
        Assert.Equal(QuotaChargeSource.None, denied.Source);
    }
}

public sealed class PausedRedisTests(RedisServer server) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task A_paused_redis_never_slows_a_pick_and_quotas_stop_waiting_after_one_timeout()
    {
        TimeSpan timeout = TimeSpan.FromMilliseconds(100);
        await using Instance a = await Instance.StartAsync(server, "a", "pause:", operationTimeout: timeout);
        var quotas = new SharedQuota<string>(a.Connection, [QuotaLimit.RequestsPerMinute(1_000)]);
        var nodes = new[] { "a", "b", "c" };
        var strategy = new RoundRobin<string>();

        server.Pause();
        try
        {
            // A call that waited on Redis takes at least the operation timeout; count those. (Under a loaded machine a
            // thread can be descheduled for longer now and then, so the bound is on how many, not on the slowest.)
            int slowPicks = 0, slowCharges = 0;
            var firstCharge = Stopwatch.StartNew();
            SharedQuotaCharge first = await quotas.TryChargeAsync("p", 0);
            firstCharge.Stop();
            var during = Stopwatch.StartNew();
            int i = 0;
            while (during.Elapsed < TimeSpan.FromSeconds(1.5))
            {
                // Reports change state, so the tracker writes behind to the paused Redis while picks go on.
                a.Tracker.Report(nodes[i % 3], i % 7 == 0 ? Outcome.Failure : Outcome.Success);
                var pick = Stopwatch.StartNew();
                bool picked = strategy.TrySelect(nodes, SelectionContext.Empty, out int index) && a.Tracker.IsAvailable(nodes[index]);
                pick.Stop();
                slowPicks += pick.Elapsed >= timeout ? 1 : 0;
                var charge = Stopwatch.StartNew();
                SharedQuotaCharge later = await quotas.TryChargeAsync("p", 0);
                charge.Stop();
                Assert.Equal(QuotaChargeSource.Local, later.Source);
                slowCharges += charge.Elapsed >= timeout ? 1 : 0;
                i++;
            }

            Assert.Equal(QuotaChargeSource.Local, first.Source);
            Assert.True(firstCharge.Elapsed < timeout + TimeSpan.FromMilliseconds(400), $"first charge took {firstCharge.Elapsed.TotalMilliseconds} ms");
            Assert.True(i > 100, $"only {i} picks in 1.5 s");
            Assert.True(slowPicks <= i / 100, $"{slowPicks} of {i} picks took the operation timeout or longer");
            Assert.True(slowCharges <= i / 100, $"{slowCharges} of {i} charges took the operation timeout or longer");
        }
        finally
        {
            server.Resume();
        }

        await Eventually.HoldsAsync(() => a.Connection.IsAvailable, TimeSpan.FromSeconds(5), "the recovery is seen");
        Assert.Equal(1, a.Log.Count(LogLevel.Warning));
        Assert.Equal(1, a.Log.Count(LogLevel.Information));
    }
}
