using Yarp.ReverseProxy.Configuration;

namespace Loadwise.Yarp.Tests;

/// <summary>Backups under YARP's active health checks, and peak-EWMA fed by the latency step.</summary>
public sealed class BackupAndLatencyTests
{
    [Theory]
    [InlineData(LoadwisePolicies.WeightedRoundRobin)]
    [InlineData(LoadwisePolicies.Maglev)]
    [InlineData(LoadwisePolicies.PeakEwma)]
    public async Task Backups_take_no_traffic_while_a_primary_is_available_and_all_of_it_when_none_is(string policy)
    {
        Backend[] backends = await Backend.StartManyAsync("p1", "p2", "b1", "b2");
        Proxy? proxy = null;
        try
        {
            ClusterConfig cluster = Proxy.Cluster(policy, backends, b => b.Name.StartsWith('b') ? new() { [LoadwiseMetadata.Backup] = "true" } : null, new() { [LoadwiseMetadata.HashKey] = "header:X-Player" }) with
            {
                // YARP's own active checks decide availability: one failed probe every 100 ms takes a destination out.
                HealthCheck = new HealthCheckConfig
                {
                    Active = new ActiveHealthCheckConfig { Enabled = true, Interval = TimeSpan.FromMilliseconds(100), Timeout = TimeSpan.FromSeconds(1), Policy = "ConsecutiveFailures", Path = "/health" },
                },
                Metadata = new Dictionary<string, string> { [LoadwiseMetadata.HashKey] = "header:X-Player", ["ConsecutiveFailuresHealthPolicy.Threshold"] = "1" },
            };
            proxy = await Proxy.StartAsync(cluster);
            Func<int, HttpRequestMessage> request = i => Proxy.Get("/", "X-Player", "player-" + i);

            Dictionary<string, int> healthy = await proxy.CountAsync(40, request);
            Assert.Equal(0, healthy.GetValueOrDefault("b1") + healthy.GetValueOrDefault("b2"));
            Assert.True(healthy.GetValueOrDefault("p1") > 0 && healthy.GetValueOrDefault("p2") > 0, string.Join(",", healthy));

            await backends[0].StopAsync();
            await WaitUntilOnlyAsync(proxy, request, "p2");
            Dictionary<string, int> onePrimary = await proxy.CountAsync(20, request);
            Assert.Equal(20, onePrimary.GetValueOrDefault("p2"));

            await backends[1].StopAsync();
            await WaitUntilOnlyAsync(proxy, request, "b1", "b2");
            Dictionary<string, int> backupsOnly = await proxy.CountAsync(40, request);
            if (policy != LoadwisePolicies.PeakEwma)
            {
                // (Peak-EWMA between two idle destinations keeps to the one measured faster, as it should.)
                Assert.True(backupsOnly.GetValueOrDefault("b1") > 0 && backupsOnly.GetValueOrDefault("b2") > 0, string.Join(",", backupsOnly));
            }

            Assert.Equal(40, backupsOnly.GetValueOrDefault("b1") + backupsOnly.GetValueOrDefault("b2"));
        }
        finally
        {
            await Disposables.DisposeAllAsync(proxy, backends);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Peak_ewma_steers_away_from_a_slow_destination_once_latency_is_reported(bool latencyStep)
    {
        Backend[] backends = await Backend.StartManyAsync("slow", "fast1", "fast2");
        backends[0].Delay = TimeSpan.FromMilliseconds(100);
        Proxy? proxy = null;
        try
        {
            proxy = await Proxy.StartAsync(Proxy.Cluster(LoadwisePolicies.PeakEwma, backends), latency: latencyStep);

            Dictionary<string, int> counts = await proxy.CountAsync(60, _ => Proxy.Get());

            // Measured, the slow destination loses every draw it is in (two distinct samples of three); blind, the
            // draws are fair and it takes about a third (20; 6 or fewer has a chance near 3 in 10,000).
            int slow = counts.GetValueOrDefault("slow");
            Assert.True(latencyStep ? slow <= 5 : slow > 6, $"slow took {slow} of 60 with the latency step {(latencyStep ? "on" : "off")}");
        }
        finally
        {
            await Disposables.DisposeAllAsync(proxy, backends);
        }
    }

    // Sends requests until YARP's health checks have taken the stopped destinations out (a few probe intervals).
    private static async Task WaitUntilOnlyAsync(Proxy proxy, Func<int, HttpRequestMessage> request, params string[] names)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(10);
        int clean = 0;
        for (int i = 0; clean < 10; i++)
        {
            Assert.True(DateTime.UtcNow < deadline, "YARP's health checks did not take the stopped destinations out within 10 s");
            using HttpResponseMessage response = await proxy.Client.SendAsync(request(i), TestContext.Current.CancellationToken);
            string body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            clean = response.IsSuccessStatusCode && names.Contains(body) ? clean + 1 : 0;
            if (clean == 0)
            {
                await Task.Delay(50, TestContext.Current.CancellationToken);
            }
        }
    }
}
