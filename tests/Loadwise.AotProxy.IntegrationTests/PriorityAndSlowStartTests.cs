using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// Backups, priority levels and slow start through the real proxy: which backends take traffic as others go down and
/// come back, driven by the proxy's health tracker (probes, or reports the test makes on its behalf).
/// </summary>
public sealed class PriorityAndSlowStartTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Note(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    /// <summary>Backends whose <c>/health</c> answers 503 while the test marks them down; probes every 100 ms, one probe decides.</summary>
    private static async Task<(TestProxy Proxy, bool[] Down)> StartAsync(Action<ProxyOptions> configure)
    {
        bool[] down = new bool[3];
        TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                o.HealthChecks.IntervalMs = 100;
                o.HealthChecks.TimeoutMs = 100;
                o.HealthChecks.JitterMs = 0;
                o.HealthChecks.UnhealthyThreshold = 1;
                o.HealthChecks.HealthyThreshold = 1;
                o.HealthChecks.Passive.Enabled = false;
                configure(o);
            },
            route: (index, context) =>
            {
                if (context.Request.Path.Value == "/health" && Volatile.Read(ref down[index]))
                {
                    context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                    return Task.FromResult(true);
                }

                return Task.FromResult(false);
            });
        return (proxy, down);
    }

    private static async Task SetAsync(TestProxy proxy, bool[] down, int index, bool isDown)
    {
        Volatile.Write(ref down[index], isDown);
        HealthStatus wanted = isDown ? HealthStatus.Unhealthy : HealthStatus.Healthy;
        await StrategyRoutingTests.WaitUntilAsync(() => proxy.Server.Backends[index].Health!.Status == wanted, timeoutMs: 5_000);
    }

    [Fact]
    public async Task A_backup_takes_traffic_only_while_every_primary_is_down()
    {
        (TestProxy proxy, bool[] down) = await StartAsync(o => o.Backends[2].Backup = true);
        await using (proxy)
        {
            Dictionary<string, int> allUp = await proxy.CountAsync(30);
            await SetAsync(proxy, down, 0, isDown: true);
            Dictionary<string, int> onePrimaryLeft = await proxy.CountAsync(20);
            await SetAsync(proxy, down, 1, isDown: true);
            Dictionary<string, int> noPrimary = await proxy.CountAsync(20);
            await SetAsync(proxy, down, 0, isDown: false);
            Dictionary<string, int> primaryBack = await proxy.CountAsync(20);
            Note($"all up {Show(allUp)}; b1 down {Show(onePrimaryLeft)}; b1 and b2 down {Show(noPrimary)}; b1 back {Show(primaryBack)}");

            Assert.Equal(new Dictionary<string, int> { ["b1"] = 15, ["b2"] = 15 }, allUp);
            Assert.Equal(new Dictionary<string, int> { ["b2"] = 20 }, onePrimaryLeft);
            Assert.Equal(new Dictionary<string, int> { ["b3"] = 20 }, noPrimary);
            Assert.Equal(new Dictionary<string, int> { ["b1"] = 20 }, primaryBack);
        }
    }

    [Fact]
    public async Task A_priority_level_spills_to_the_next_by_the_overprovisioning_factor()
    {
        // b1 and b2 at level 0, b3 at level 1 (not a backup). With b1 down, level 0's health is 1.4 x 1/2 = 70%: it keeps
        // 70% of the requests and level 1 takes the other 30% (Envoy's rule); with both up, level 1 takes nothing.
        (TestProxy proxy, bool[] down) = await StartAsync(o => o.Backends[2].Priority = 1);
        await using (proxy)
        {
            Dictionary<string, int> allUp = await proxy.CountAsync(30);
            await SetAsync(proxy, down, 0, isDown: true);
            Dictionary<string, int> spilled = await proxy.CountAsync(200);
            Note($"all up {Show(allUp)}; b1 down {Show(spilled)}");

            Assert.False(allUp.ContainsKey("b3"), Show(allUp));
            Assert.False(spilled.ContainsKey("b1"), Show(spilled));
            Assert.InRange(spilled.GetValueOrDefault("b3"), 35, 85); // 60 expected (30%); the draw is random
        }
    }

    [Fact]
    public async Task Slow_start_ramps_a_recovered_backend_s_share_by_Envoy_s_formula()
    {
        // The proxy's clock is fake: the ramp's 60 s window passes in two moves. Active probes are off; the test reports
        // to the proxy's health tracker as probes would (Unhealthy, then Recovering, then Healthy).
        var time = new FakeTimeProvider();
        await using TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                o.Strategy.Name = "RoundRobin";
                o.SlowStart.WindowMs = 60_000;
                o.HealthChecks.Enabled = false;
                o.HealthChecks.UnhealthyThreshold = 1;
                o.HealthChecks.HealthyThreshold = 1;
            },
            time: time);
        const int Requests = 300;
        Dictionary<string, int> before = await proxy.CountAsync(30);

        HealthTracker<string> tracker = proxy.Server.Health.Tracker;
        tracker.ReportFailure("b3");
        Assert.Equal(HealthStatus.Unhealthy, tracker.GetStatus("b3"));
        tracker.ReportSuccess("b3");
        Assert.Equal(HealthStatus.Recovering, tracker.GetStatus("b3"));
        tracker.ReportSuccess("b3");
        Assert.Equal(HealthStatus.Healthy, tracker.GetStatus("b3"));

        // Factor max(0.1, t / 60 s): 0.1 at once, 0.5 after 30 s, 1 after 60 s; b3's share is the factor x 1/3.
        int atStart = (await proxy.CountAsync(Requests)).GetValueOrDefault("b3");
        time.Advance(TimeSpan.FromSeconds(30));
        int halfway = (await proxy.CountAsync(Requests)).GetValueOrDefault("b3");
        time.Advance(TimeSpan.FromSeconds(30));
        int after = (await proxy.CountAsync(Requests)).GetValueOrDefault("b3");
        Note($"b3 of {Requests}: {atStart} at the start (factor 0.1: ~{Requests / 30}), {halfway} at 30 s (0.5: ~{Requests / 6}), {after} at 60 s (1: {Requests / 3})");

        Assert.Equal(10, before["b3"]);
        Assert.InRange(atStart, 2, 25);
        Assert.InRange(halfway, 30, 72);
        Assert.Equal(Requests / 3, after);
    }

    [Fact]
    public async Task Slow_start_ramps_a_backend_a_reload_adds()
    {
        var time = new FakeTimeProvider();
        void Configure(ProxyOptions o)
        {
            o.Strategy.Name = "RoundRobin";
            o.SlowStart.WindowMs = 60_000;
            o.SlowStart.MinWeightPercent = 20;
            o.HealthChecks.Enabled = false;
        }

        await using TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                Configure(o);
                o.Backends.RemoveAt(2);
            },
            time: time);
        Assert.False((await proxy.CountAsync(10)).ContainsKey("b3"));

        var next = new ProxyOptions();
        next.Listen.Add("http://127.0.0.1:0");
        foreach (DemoBackend backend in proxy.Backends)
        {
            next.Backends.Add(new BackendOptions { Id = backend.Name, Url = backend.Url });
        }

        Configure(next);
        Assert.True((await proxy.Server.ApplyAsync(next, "test")).Applied);

        // Factor 0.2 (the minimum) at once: ~20 of 300; b1 and b2, present before, do not ramp.
        Dictionary<string, int> atStart = await proxy.CountAsync(300);
        time.Advance(TimeSpan.FromSeconds(60));
        Dictionary<string, int> after = await proxy.CountAsync(300);
        Note($"after the reload {Show(atStart)}; 60 s later {Show(after)}");
        Assert.InRange(atStart.GetValueOrDefault("b3"), 6, 40);
        Assert.Equal(100, after["b3"]);
    }

    private static string Show(Dictionary<string, int> counts) => string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Key}={c.Value}"));
}
