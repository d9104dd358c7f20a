using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Loadwise.Http.Tests;

/// <summary>A streamed response is load for as long as its body lasts, not only until its headers arrive.</summary>
public sealed class InFlightUntilBodyEndTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Every server streams "first", then waits for <paramref name="finish"/> before "last".</summary>
    private static void Stream(ServerTrio trio, Task finish, bool breakOff = false)
    {
        foreach (TestServer server in trio.Servers)
        {
            server.Script = async context =>
            {
                context.Response.ContentType = "text/event-stream";
                await context.Response.WriteAsync("first\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                await finish.WaitAsync(context.RequestAborted);
                if (breakOff)
                {
                    context.Abort();
                    return true;
                }

                await context.Response.WriteAsync("last\n", context.RequestAborted);
                return true;
            };
        }
    }

    [Fact]
    public async Task A_streamed_body_stays_in_flight_until_it_is_read_to_its_end()
    {
        await using ServerTrio trio = await ServerTrio.StartAsync();
        var finish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Stream(trio, finish.Task);
        (ServiceProvider provider, HttpClient client) = LoadBalancingHandlerTests.Create(LoadBalancingHandlerTests.With(trio, "LeastLoad"));
        await using ServiceProvider owner = provider;
        LoadBalancer<HttpEndpoint> balancer = provider.GetRequiredService<LoadwiseHttpBalancers>().GetBalancer("api");

        using HttpResponseMessage response = await client.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead, Ct);
        string id = new HttpEndpoint(new Uri(trio.Endpoints.Single(e => trio.Servers.Single(s => s.Address.ToString() == e).Requests == 1))).Id;
        Assert.Equal(1, balancer.GetInFlight(id));
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);

        // LeastLoad steers the next request away from the endpoint that is still streaming.
        using HttpResponseMessage second = await client.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(2, trio.Servers.Count(s => s.Requests == 1));

        finish.SetResult();
        Assert.Equal("first\nlast\n", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(0, balancer.GetInFlight(id));
        Assert.Equal(HealthStatus.Healthy, balancer.Health!.GetStatus(id));
        second.Dispose();
        Assert.All(balancer.Nodes, n => Assert.Equal(0, balancer.GetInFlight(n.Id)));
    }

    [Fact]
    public async Task A_body_that_breaks_off_is_a_failure_and_leaves_nothing_in_flight()
    {
        await using ServerTrio trio = await ServerTrio.StartAsync();
        var finish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Stream(trio, finish.Task, breakOff: true);
        (ServiceProvider provider, HttpClient client) = LoadBalancingHandlerTests.Create(
            LoadBalancingHandlerTests.With(trio, "RoundRobin", o => o.Balancer.Health.FailureThreshold = 1));
        await using ServiceProvider owner = provider;
        LoadBalancer<HttpEndpoint> balancer = provider.GetRequiredService<LoadwiseHttpBalancers>().GetBalancer("api");

        using HttpResponseMessage response = await client.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead, Ct);
        Stream body = await response.Content.ReadAsStreamAsync(Ct);
        finish.SetResult();
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            var buffer = new byte[64];
            while (await body.ReadAsync(buffer, Ct) > 0)
            {
            }
        });

        string id = balancer.Nodes.Single(n => balancer.Health!.GetStatus(n.Id) != HealthStatus.Healthy).Id;
        Assert.Equal(HealthStatus.Unhealthy, balancer.Health!.GetStatus(id));
        Assert.All(balancer.Nodes, n => Assert.Equal(0, balancer.GetInFlight(n.Id)));
    }

    [Fact]
    public async Task Turned_off_the_request_leaves_flight_at_its_headers()
    {
        await using ServerTrio trio = await ServerTrio.StartAsync();
        var finish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Stream(trio, finish.Task);
        (ServiceProvider provider, HttpClient client) = LoadBalancingHandlerTests.Create(
            LoadBalancingHandlerTests.With(trio, "LeastLoad", o => o.InFlightUntilBodyEnd = false));
        await using ServiceProvider owner = provider;
        LoadBalancer<HttpEndpoint> balancer = provider.GetRequiredService<LoadwiseHttpBalancers>().GetBalancer("api");

        using HttpResponseMessage response = await client.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.All(balancer.Nodes, n => Assert.Equal(0, balancer.GetInFlight(n.Id)));
        finish.SetResult();
        Assert.Equal("first\nlast\n", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task A_buffered_response_is_released_once_HttpClient_has_read_it()
    {
        await using ServerTrio trio = await ServerTrio.StartAsync();
        (ServiceProvider provider, HttpClient client) = LoadBalancingHandlerTests.Create(LoadBalancingHandlerTests.With(trio, "RoundRobin"));
        await using ServiceProvider owner = provider;
        LoadBalancer<HttpEndpoint> balancer = provider.GetRequiredService<LoadwiseHttpBalancers>().GetBalancer("api");

        for (int i = 0; i < 6; i++)
        {
            using HttpResponseMessage response = await client.GetAsync("/plain", Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.StartsWith("s", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
            Assert.All(balancer.Nodes, n => Assert.Equal(0, balancer.GetInFlight(n.Id)));
        }
    }
}
