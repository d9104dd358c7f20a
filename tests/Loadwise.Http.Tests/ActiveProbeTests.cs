using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Loadwise.Http.Tests;

public class ActiveProbeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_unhealthy_endpoint_that_answers_its_probe_gets_traffic_again()
    {
        await using ServerTrio trio = await ServerTrio.StartAsync();
        TestServer flaky = trio.Servers[0];
        bool broken = true;
        flaky.Script = context =>
        {
            if (!Volatile.Read(ref broken))
            {
                return Task.FromResult(false);
            }

            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return Task.FromResult(true);
        };
        var services = new ServiceCollection();
        services.AddHttpClient("api", c => c.BaseAddress = new Uri("http://api")).AddLoadwise(o =>
        {
            o.Endpoints = trio.Endpoints;
            o.MaxAttempts = 1;
            o.ProbePath = "/healthz";
            o.Balancer.Health.FailureThreshold = 1;
            o.Balancer.Health.RecoverySuccesses = 1;
            o.Balancer.Health.ProbeIntervalSeconds = 0.2;
        });
        await using ServiceProvider provider = services.BuildServiceProvider();
        HttpClient client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("api");
        IHostedService[] hosted = [.. provider.GetServices<IHostedService>()];
        foreach (IHostedService service in hosted)
        {
            await service.StartAsync(Ct);
        }

        try
        {
            for (int i = 0; i < 3; i++)
            {
                using HttpResponseMessage response = await client.GetAsync("/x", Ct); // round robin: s0 answers 500 once
            }

            LoadBalancer<HttpEndpoint> balancer = provider.GetRequiredService<LoadwiseHttpBalancers>().GetBalancer("api");
            string id = new HttpEndpoint(flaky.Address).Id;
            Assert.Equal(HealthStatus.Unhealthy, balancer.Health!.GetStatus(id));
            await Task.Delay(600, Ct); // failed probes keep it out
            Assert.Equal(HealthStatus.Unhealthy, balancer.Health.GetStatus(id));
            Assert.Contains("/healthz", flaky.Targets);

            Volatile.Write(ref broken, false);
            for (int i = 0; i < 100 && balancer.Health.GetStatus(id) == HealthStatus.Unhealthy; i++)
            {
                await Task.Delay(50, Ct);
            }

            Assert.NotEqual(HealthStatus.Unhealthy, balancer.Health.GetStatus(id));
            var answers = new List<string>();
            for (int i = 0; i < 6; i++)
            {
                answers.Add(await client.GetStringAsync("/back", Ct));
            }

            Assert.Contains("s0", answers);
        }
        finally
        {
            foreach (IHostedService service in hosted)
            {
                await service.StopAsync(CancellationToken.None);
            }
        }
    }
}
