using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Configuration;

namespace Loadwise.Yarp.Tests;

/// <summary>Loadwise.WeightedRoundRobin behind a real YARP pipeline, with weights from configuration.</summary>
public sealed class WeightedRoundRobinTests
{
    [Fact]
    public async Task Weights_read_from_configuration_give_each_destination_its_exact_share()
    {
        Backend[] backends = await Backend.StartManyAsync("a", "b", "c");
        Proxy? proxy = null;
        try
        {
            // The shape of an appsettings.json "ReverseProxy" section.
            IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Routes:all:ClusterId"] = "c",
                ["Routes:all:Match:Path"] = "{**catch-all}",
                ["Clusters:c:LoadBalancingPolicy"] = "Loadwise.WeightedRoundRobin",
                ["Clusters:c:Destinations:a:Address"] = backends[0].Address,
                ["Clusters:c:Destinations:a:Metadata:Loadwise.Weight"] = "5",
                ["Clusters:c:Destinations:b:Address"] = backends[1].Address,
                ["Clusters:c:Destinations:b:Metadata:Loadwise.Weight"] = "1",
                ["Clusters:c:Destinations:c:Address"] = backends[2].Address,
                ["Clusters:c:Destinations:c:Metadata:Loadwise.Weight"] = "2",
            }).Build();
            proxy = await Proxy.StartAsync(configuration);

            Dictionary<string, int> counts = await proxy.CountAsync(80, _ => Proxy.Get());

            // Smooth weighted round robin is exact over whole periods (5 + 1 + 2 = 8 picks).
            Assert.Equal(50, counts.GetValueOrDefault("a"));
            Assert.Equal(10, counts.GetValueOrDefault("b"));
            Assert.Equal(20, counts.GetValueOrDefault("c"));
        }
        finally
        {
            await Disposables.DisposeAllAsync(proxy, backends);
        }
    }

    [Fact]
    public async Task Without_weights_it_is_plain_round_robin_and_weight_0_drains()
    {
        Backend[] backends = await Backend.StartManyAsync("a", "b", "c");
        Proxy? proxy = null;
        try
        {
            ClusterConfig cluster = Proxy.Cluster(LoadwisePolicies.WeightedRoundRobin, backends, b => b.Name == "c" ? new() { [LoadwiseMetadata.Weight] = "0" } : null);
            proxy = await Proxy.StartAsync(cluster);

            Dictionary<string, int> counts = await proxy.CountAsync(30, _ => Proxy.Get());

            Assert.Equal(15, counts.GetValueOrDefault("a"));
            Assert.Equal(15, counts.GetValueOrDefault("b"));
            Assert.Equal(0, counts.GetValueOrDefault("c"));
        }
        finally
        {
            await Disposables.DisposeAllAsync(proxy, backends);
        }
    }

    [Fact]
    public async Task A_weight_changed_by_a_configuration_update_takes_effect()
    {
        Backend[] backends = await Backend.StartManyAsync("a", "b");
        Proxy? proxy = null;
        try
        {
            ClusterConfig cluster = Proxy.Cluster(LoadwisePolicies.WeightedRoundRobin, backends);
            proxy = await Proxy.StartAsync(cluster);
            Dictionary<string, int> before = await proxy.CountAsync(20, _ => Proxy.Get());
            Assert.Equal(10, before.GetValueOrDefault("a"));

            ClusterConfig reweighted = Proxy.Cluster(LoadwisePolicies.WeightedRoundRobin, backends, b => new() { [LoadwiseMetadata.Weight] = b.Name == "a" ? "3" : "1" });
            proxy.Services.GetRequiredService<InMemoryConfigProvider>().Update([Proxy.Route("c")], [reweighted]);
            Dictionary<string, int> after = await proxy.CountAsync(40, _ => Proxy.Get());

            Assert.Equal(30, after.GetValueOrDefault("a"));
            Assert.Equal(10, after.GetValueOrDefault("b"));
        }
        finally
        {
            await Disposables.DisposeAllAsync(proxy, backends);
        }
    }
}
