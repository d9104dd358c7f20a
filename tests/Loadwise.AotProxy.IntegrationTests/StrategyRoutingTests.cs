using System.Net;

namespace Loadwise.AotProxy.IntegrationTests;

public sealed class StrategyRoutingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RoundRobin_takes_turns_exactly()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Strategy.Name = "RoundRobin");
        var order = new List<string>();
        for (int i = 0; i < 30; i++)
        {
            order.Add((await proxy.Client.GetStringAsync("/", Ct)).Trim());
        }

        Assert.Equal(10, order.Count(n => n == "b1"));
        Assert.Equal(10, order.Count(n => n == "b2"));
        Assert.Equal(10, order.Count(n => n == "b3"));
        for (int i = 3; i < order.Count; i++)
        {
            Assert.Equal(order[i - 3], order[i]);
        }
    }

    [Fact]
    public async Task WeightedRoundRobin_follows_the_weights_exactly()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Strategy.Name = "WeightedRoundRobin", weights: [3, 2, 1]);
        Dictionary<string, int> counts = await proxy.CountAsync(60);
        Assert.Equal(30, counts["b1"]);
        Assert.Equal(20, counts["b2"]);
        Assert.Equal(10, counts["b3"]);
    }

    [Fact]
    public async Task WeightedRandom_never_picks_weight_zero_and_uses_the_others()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                o.Strategy.Name = "WeightedRandom";
                o.Strategy.Seed = 42;
            },
            weights: [1, 1, 0]);
        Dictionary<string, int> counts = await proxy.CountAsync(60);
        Assert.False(counts.ContainsKey("b3"));
        Assert.True(counts["b1"] > 5 && counts["b2"] > 5, string.Join(",", counts));
    }

    [Theory]
    [InlineData("Random")]
    [InlineData("PowerOfTwoChoices")]
    [InlineData("MostAvailable")]
    [InlineData("WeightedLeastRequest")]
    public async Task Spreading_strategies_use_every_backend(string strategy)
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o =>
        {
            o.Strategy.Name = strategy;
            o.Strategy.Seed = 7;
        });
        Dictionary<string, int> counts = await proxy.CountAsync(60);
        Assert.Equal(3, counts.Count);
        Assert.All(counts.Values, c => Assert.True(c >= 5, string.Join(",", counts)));
    }

    [Theory]
    [InlineData("LeastLoad")]
    [InlineData("MostAvailable")]
    public async Task Load_aware_strategies_send_each_request_to_an_idle_backend(string strategy)
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Strategy.Name = strategy);
        var pending = new List<Task<string>>();
        for (int i = 0; i < 3; i++)
        {
            pending.Add(proxy.Client.GetStringAsync("/delay/1500", Ct));
            // Wait until the request is in flight at a backend, so the next pick sees its load.
            int started = i + 1;
            await WaitUntilAsync(() => proxy.Backends.Sum(b => b.Requests) >= started);
        }

        string[] names = await Task.WhenAll(pending);
        Assert.Equal(["b1", "b2", "b3"], names.Select(n => n.Trim()).Order());
    }

    [Fact]
    public async Task LeastLoad_with_no_load_takes_turns()
    {
        // Sequential requests leave every backend idle at each pick: the tied backends take turns (Core's LeastLoad
        // rotates among equal loads), so no backend takes them all.
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Strategy.Name = "LeastLoad");
        Dictionary<string, int> counts = await proxy.CountAsync(12);
        Assert.All(new[] { "b1", "b2", "b3" }, b => Assert.InRange(counts.GetValueOrDefault(b), 2, 6));
    }

    [Fact]
    public async Task Selections_are_counted_by_strategy()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Strategy.Name = "RoundRobin");
        await proxy.CountAsync(5);
        string metrics = proxy.Scrape();
        Assert.Contains("loadwise_selections_total{strategy=\"RoundRobin\"} 5\n", metrics, StringComparison.Ordinal);
        Assert.Contains("loadwise_requests_total{backend=\"b1\",code=\"200\"} 2\n", metrics, StringComparison.Ordinal);
        Assert.Contains("loadwise_backend_health{backend=\"b2\",state=\"healthy\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("loadwise_request_duration_seconds_count{backend=\"b3\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("loadwise_active_requests 0\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_runtime_meter_comes_along_with_collections_by_generation_and_cpu_time()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(backendCount: 1);
        GC.Collect(0);
        string metrics = proxy.Scrape();
        Assert.Matches("(?m)^dotnet_gc_collections_total\\{gc_heap_generation=\"gen0\"\\} [1-9][0-9]*$", metrics);
        Assert.Contains("# TYPE dotnet_gc_pause_time_seconds_total counter\n", metrics, StringComparison.Ordinal);
        Assert.Matches("(?m)^dotnet_process_cpu_time_seconds_total\\{cpu_mode=\"user\"\\} [0-9.eE+-]+$", metrics);
        Assert.Contains("# TYPE dotnet_process_memory_working_set_bytes gauge\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Active_requests_count_a_request_while_it_is_in_flight()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(backendCount: 1);
        Task<HttpResponseMessage> slow = proxy.Client.GetAsync("/delay/1500", Ct);
        await WaitUntilAsync(() => proxy.Backends[0].Requests == 1);
        Assert.Contains("loadwise_active_requests 1\n", proxy.Scrape(), StringComparison.Ordinal);
        using HttpResponseMessage response = await slow;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("loadwise_active_requests 0\n", proxy.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_are_served_on_the_configured_path_and_not_forwarded()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Metrics.Path = "/_stats");
        using HttpResponseMessage response = await proxy.Client.GetAsync("/_stats", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Contains("# TYPE loadwise_requests_total counter", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(0, proxy.Backends.Sum(b => b.Requests));
    }

    [Fact]
    public async Task Admin_listener_serves_metrics_and_the_proxy_port_forwards_that_path()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Admin.Listen = "http://127.0.0.1:0");
        string adminUrl = proxy.Server.AdminUrl!;
        string metrics = await proxy.Client.GetStringAsync(adminUrl + "/metrics", Ct);
        Assert.Contains("# TYPE loadwise_active_requests gauge", metrics, StringComparison.Ordinal);
        using HttpResponseMessage forwarded = await proxy.Client.GetAsync("/metrics", Ct);
        Assert.Equal(HttpStatusCode.NotFound, forwarded.StatusCode); // the demo backend's 404: the request was forwarded
        Assert.Equal(1, proxy.Backends.Sum(b => b.Requests));
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, int timeoutMs = 10_000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10, Ct);
        }
    }
}
