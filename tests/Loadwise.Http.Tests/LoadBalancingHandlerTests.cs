using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Polly;

namespace Loadwise.Http.Tests;

public class LoadBalancingHandlerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static (ServiceProvider Provider, HttpClient Client) Create(Action<LoadwiseHttpOptions> configure, Action<IServiceCollection>? services = null, Action<IHttpClientBuilder>? before = null)
    {
        var collection = new ServiceCollection();
        services?.Invoke(collection);
        IHttpClientBuilder builder = collection.AddHttpClient("api", c => c.BaseAddress = new Uri("http://api"));
        before?.Invoke(builder);
        builder.AddLoadwise(configure);
        ServiceProvider provider = collection.BuildServiceProvider();
        return (provider, provider.GetRequiredService<IHttpClientFactory>().CreateClient("api"));
    }

    internal static Action<LoadwiseHttpOptions> With(ServerTrio trio, string strategy, Action<LoadwiseHttpOptions>? more = null) => o =>
    {
        o.Endpoints = trio.Endpoints;
        o.Balancer.Strategy.Name = strategy;
        more?.Invoke(o);
    };

    [Theory]
    [InlineData("RoundRobin")]
    [InlineData("Random")]
    [InlineData("WeightedRandom")]
    [InlineData("WeightedRoundRobin")]
    [InlineData("LeastLoad")]
    [InlineData("PowerOfTwoChoices")]
    [InlineData("MostAvailable")]
    public async Task Requests_spread_over_the_three_servers_with_path_and_query_kept(string strategy)
    {
        await using ServerTrio trio = await ServerTrio.StartAsync();
        (ServiceProvider provider, HttpClient client) = Create(With(trio, strategy));
        await using ServiceProvider owner = provider;
        var counts = new Dictionary<string, int>();
        // Eight at a time, so that in-flight counts differ and the load-reading strategies spread too.
        for (int round = 0; round < 30; round++)
        {
            string[] bodies = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => client.GetStringAsync($"/items/{round}?page={i}", Ct)));
            foreach (string body in bodies)
            {
                counts[body] = counts.GetValueOrDefault(body) + 1;
            }
        }

        Assert.Equal(["s0", "s1", "s2"], counts.Keys.Order());
        Assert.All(counts.Values, c => Assert.True(c >= 240 / 10, $"{strategy}: {string.Join(", ", counts)}"));
        Assert.All(trio.Servers, s => Assert.All(s.Targets, t => Assert.StartsWith("/items/", t, StringComparison.Ordinal)));
        Assert.Contains("/items/0?page=0", trio.Servers.SelectMany(s => s.Targets));
        if (strategy == "RoundRobin")
        {
            Assert.All(counts.Values, c => Assert.Equal(80, c));
        }
    }

    [Fact]
    public async Task A_server_stopped_under_load_fails_no_idempotent_request()
    {
        await using ServerTrio trio = await ServerTrio.StartAsync();
        (ServiceProvider provider, HttpClient client) = Create(With(trio, "PowerOfTwoChoices"));
        await using ServiceProvider owner = provider;
        int sent = 0;
        int failed = 0;
        var stopped = new TaskCompletionSource();
        async Task Worker()
        {
            while (true)
            {
                int n = Interlocked.Increment(ref sent);
                if (n > 600)
                {
                    return;
                }

                if (n == 150)
                {
                    _ = trio.Servers[1].StopAsync().ContinueWith(_ => stopped.TrySetResult(), TaskScheduler.Default);
                }

                try
                {
                    using HttpResponseMessage response = await client.GetAsync($"/work/{n}", Ct);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref failed);
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Worker()));
        await stopped.Task;
        Assert.Equal(0, failed);
        LoadBalancer<HttpEndpoint> balancer = provider.GetRequiredService<LoadwiseHttpBalancers>().GetBalancer("api");
        Assert.Equal(HealthStatus.Unhealthy, balancer.Health!.GetStatus(new HttpEndpoint(trio.Servers[1].Address).Id));
        Assert.True(trio.Servers[0].Requests + trio.Servers[2].Requests >= 450);
    }

    [Fact]
    public async Task A_429_rests_the_server_for_its_retry_after_and_the_request_goes_elsewhere()
    {
        await using ServerTrio trio = await ServerTrio.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        TestServer limited = trio.Servers[0];
        limited.Script = async context =>
        {
            if (limited.Requests > 1)
            {
                return false;
            }

            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = "30";
            await context.Response.WriteAsync("slow down");
            return true;
        };
        (ServiceProvider provider, HttpClient client) = Create(With(trio, "RoundRobin"), s => s.AddSingleton<TimeProvider>(time));
        await using ServiceProvider owner = provider;

        Assert.NotEqual("s0", await client.GetStringAsync("/first", Ct)); // s0 said 429; the request was retried elsewhere
        for (int i = 0; i < 12; i++)
        {
            Assert.NotEqual("s0", await client.GetStringAsync($"/rest/{i}", Ct));
        }

        Assert.Equal(1, limited.Requests);
        time.Advance(TimeSpan.FromSeconds(31));
        var after = new List<string>();
        for (int i = 0; i < 6; i++)
        {
            after.Add(await client.GetStringAsync($"/after/{i}", Ct));
        }

        Assert.Contains("s0", after);
        LoadBalancer<HttpEndpoint> balancer = provider.GetRequiredService<LoadwiseHttpBalancers>().GetBalancer("api");
        Assert.Equal(HealthStatus.Healthy, balancer.Health!.GetStatus(new HttpEndpoint(limited.Address).Id)); // resting is not failing
    }

    [Fact]
    public async Task The_same_header_value_sticks_to_one_server()
    {
        await using ServerTrio trio = await ServerTrio.StartAsync();
        (ServiceProvider provider, HttpClient client) = Create(With(trio, "ConsistentHash", o => o.HashKeyHeader = "X-Room"));
        await using ServiceProvider owner = provider;
        var byRoom = new Dictionary<string, HashSet<string>>();
        for (int room = 0; room < 12; room++)
        {
            for (int i = 0; i < 5; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/chat");
                request.Headers.Add("X-Room", $"room-{room}");
                using HttpResponseMessage response = await client.SendAsync(request, Ct);
                (byRoom.TryGetValue($"room-{room}", out var set) ? set : byRoom[$"room-{room}"] = []).Add(await response.Content.ReadAsStringAsync(Ct));
            }
        }

        Assert.All(byRoom.Values, servers => Assert.Single(servers));
        Assert.True(byRoom.Values.Select(s => s.Single()).Distinct().Count() >= 2);

        using var keyed = new HttpRequestMessage(HttpMethod.Get, "/chat").WithLoadwiseHashKey("room-3");
        using HttpResponseMessage byOption = await client.SendAsync(keyed, Ct);
        Assert.Equal(byRoom["room-3"].Single(), await byOption.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task Endpoints_come_from_service_discovery_configuration()
    {
        await using ServerTrio trio = await ServerTrio.StartAsync();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Services:api:http:0"] = trio.Endpoints[0],
            ["Services:api:http:1"] = trio.Endpoints[1],
            ["Services:api:http:2"] = trio.Endpoints[2],
        }).Build();
        (ServiceProvider provider, HttpClient client) = Create(
            o => o.Balancer.Strategy.Name = "RoundRobin",
            s => s.AddSingleton<IConfiguration>(configuration).AddServiceDiscovery());
        await using ServiceProvider owner = provider;
        var seen = new List<string>();
        for (int i = 0; i < 6; i++)
        {
            seen.Add(await client.GetStringAsync("/discovered", Ct));
        }

        Assert.Equal(["s0", "s0", "s1", "s1", "s2", "s2"], seen.Order());
    }

    [Fact]
    public async Task Each_resilience_retry_picks_a_new_endpoint()
    {
        await using ServerTrio trio = await ServerTrio.StartAsync();
        TestServer broken = trio.Servers[0];
        broken.Script = context =>
        {
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return Task.FromResult(true);
        };
        (ServiceProvider provider, HttpClient client) = Create(
            With(trio, "RoundRobin", o => o.MaxAttempts = 1),
            before: b => b.AddStandardResilienceHandler(o =>
            {
                o.Retry.MaxRetryAttempts = 2;
                o.Retry.Delay = TimeSpan.FromMilliseconds(1);
                o.Retry.BackoffType = DelayBackoffType.Constant;
                o.Retry.UseJitter = false;
            }));
        await using ServiceProvider owner = provider;

        Assert.Equal("s1", await client.GetStringAsync("/retried", Ct)); // s0 answered 500; the resilience retry went through the balancer again
        Assert.Equal(1, broken.Requests);
        Assert.Equal(1, trio.Servers[1].Requests);
    }

    [Fact]
    public async Task A_cancelled_request_is_not_a_failure_and_leaves_nothing_in_flight()
    {
        await using ServerTrio trio = await ServerTrio.StartAsync();
        foreach (TestServer server in trio.Servers)
        {
            server.Script = async context =>
            {
                await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                return true;
            };
        }

        (ServiceProvider provider, HttpClient client) = Create(With(trio, "RoundRobin", o => o.Balancer.Health.FailureThreshold = 1));
        await using ServiceProvider owner = provider;
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetAsync("/slow", cancel.Token));

        LoadBalancer<HttpEndpoint> balancer = provider.GetRequiredService<LoadwiseHttpBalancers>().GetBalancer("api");
        string id = new HttpEndpoint(trio.Servers[0].Address).Id;
        Assert.Equal(0, balancer.Health!.GetState(id).ConsecutiveFailures);
        Assert.Equal(HealthStatus.Healthy, balancer.Health.GetStatus(id));
        Assert.Equal(0, balancer.GetInFlight(id));
    }

    [Fact]
    public async Task Quota_cost_comes_from_the_request_and_is_corrected_from_the_response()
    {
        await using ServerTrio trio = await ServerTrio.StartAsync();
        foreach (TestServer server in trio.Servers)
        {
            server.Script = async context =>
            {
                context.Response.Headers["x-tokens"] = "40";
                await context.Response.WriteAsync(server.Name);
                return true;
            };
        }

        var quotas = new QuotaTracker<string>([QuotaLimit.TokensPerMinute(1_000)]);
        var collection = new ServiceCollection();
        collection.AddHttpClient("api", c => c.BaseAddress = new Uri("http://api"))
            .AddLoadwise(With(trio, "MostAvailable"))
            .ConfigureLoadwiseBalancer((b, _) => b.WithQuotas(quotas));
        await using ServiceProvider provider = collection.BuildServiceProvider();
        HttpClient client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("api");

        using var request = new HttpRequestMessage(HttpMethod.Get, "/tokens")
            .WithLoadwiseCost(500, static r => double.Parse(r.Headers.GetValues("x-tokens").Single(), System.Globalization.CultureInfo.InvariantCulture));
        using HttpResponseMessage response = await client.SendAsync(request, Ct);
        string answered = new HttpEndpoint(trio.ByName(await response.Content.ReadAsStringAsync(Ct)).Address).Id;
        Assert.True(request.Options.TryGetValue(LoadwiseRequest.Charge, out QuotaCharge charge));
        Assert.Same(quotas.GetHandle(answered), charge.Node);
        Assert.Equal(40, quotas.GetUsage(answered, QuotaLimit.TokensName), precision: 6); // charged 500, corrected to 40

        // A request that cannot fit anywhere is refused locally, never sent.
        int before = trio.Servers.Sum(s => s.Requests);
        using var huge = new HttpRequestMessage(HttpMethod.Get, "/huge").WithLoadwiseCost(5_000);
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(huge, Ct));
        Assert.Contains("over quota", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, trio.Servers.Sum(s => s.Requests));
    }
}
