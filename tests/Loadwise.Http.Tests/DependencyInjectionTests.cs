using System.Diagnostics.Metrics;
using Loadwise.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Loadwise.Http.Tests;

public class DependencyInjectionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static IConfiguration Configuration(Dictionary<string, string?> values) => new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    [Fact]
    public void Balancers_are_resolved_by_name_built_once_and_bound_from_configuration()
    {
        IConfiguration configuration = Configuration(new()
        {
            ["Loadwise:search:Strategy:Name"] = "leastload",
            ["Loadwise:search:Health:FailureThreshold"] = "1",
        });
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddLoadwise<string>("catalog", b => b.UsePowerOfTwoChoices().WithHealth());
        services.AddLoadwise<string>("search", configuration.GetSection("Loadwise:search"), (b, _) => b.Where(static n => n != "down"));
        using ServiceProvider provider = services.BuildServiceProvider();
        var balancers = provider.GetRequiredService<ILoadBalancerProvider<string>>();

        LoadBalancer<string> catalog = balancers.GetBalancer("catalog");
        Assert.Same(catalog, balancers.GetBalancer("catalog"));
        Assert.Same(catalog, provider.GetRequiredKeyedService<LoadBalancer<string>>("catalog"));
        Assert.Equal("PowerOfTwoChoices", catalog.StrategyName);
        Assert.Equal("catalog", catalog.Name);

        LoadBalancer<string> search = balancers.GetBalancer("search");
        Assert.Equal("LeastLoad", search.StrategyName);
        search.Update(["down", "up"]);
        Assert.True(search.TryAcquire(SelectionContext.Empty, out NodeLease<string> lease));
        Assert.Equal("up", lease.Node); // the code callback added a predicate to the bound options
        lease.Dispose(Outcome.Failure);
        Assert.Equal(HealthStatus.Unhealthy, search.Health!.GetStatus("up")); // FailureThreshold 1 came from configuration

        Assert.False(balancers.TryGetBalancer("missing", out _));
        var missing = Assert.Throws<KeyNotFoundException>(() => balancers.GetBalancer("missing"));
        Assert.Contains("AddLoadwise<String>(\"missing\"", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_configuration_stops_the_host_at_start_with_the_keys_named()
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Loadwise:search:Strategy:Name"] = "Fastest",
            ["Loadwise:search:Health:ProbeIntervalSeconds"] = "0",
            ["Loadwise:Http:api:MaxAttempts"] = "0",
        });
        builder.Services.AddLoadwise<string>("search", builder.Configuration.GetSection("Loadwise:search"));
        builder.Services.AddHttpClient("api").AddLoadwise(builder.Configuration.GetSection("Loadwise:Http:api"));
        using IHost host = builder.Build();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(Ct));
        string message = error is AggregateException all ? string.Join(" | ", all.InnerExceptions.Select(e => e.Message)) : error.Message;
        Assert.Contains("Loadwise:search:Strategy:Name: got 'Fastest'", message, StringComparison.Ordinal);
        Assert.Contains("Loadwise:search:Health:ProbeIntervalSeconds: got 0", message, StringComparison.Ordinal);
        Assert.Contains("Loadwise:Http:api:MaxAttempts: got 0, expected 1 to 10", message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_containers_meter_factory_carries_the_balancers_metrics()
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddLoadwise<string>("metered", b => b.UseRoundRobin());
        using ServiceProvider provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IMeterFactory>();
        long picks = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == factory && instrument.Name == LoadBalancer.PicksInstrument)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref picks, value));
        listener.Start();

        LoadBalancer<string> balancer = provider.GetRequiredService<ILoadBalancerProvider<string>>().GetBalancer("metered");
        balancer.Update(["a"]);
        Assert.True(balancer.TryAcquire(SelectionContext.Empty, out NodeLease<string> lease));
        lease.Dispose();
        Assert.Equal(1, Interlocked.Read(ref picks));
    }
}
