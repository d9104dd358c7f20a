using System.Net;
using Microsoft.Extensions.Time.Testing;
using System.Net.Sockets;

namespace Loadwise.AotProxy.IntegrationTests;

public sealed class ErrorPathTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task No_backend_available_gives_503()
    {
        // Every backend has weight 0, so the weighted strategy has nothing it may pick.
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Strategy.Name = "WeightedRoundRobin", weights: [0, 0, 0]);
        using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("503 no backend available\n", await response.Content.ReadAsStringAsync(Ct));
        Assert.Contains("loadwise_requests_dropped_total{reason=\"no_backend\"} 1\n", proxy.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_failure_gives_502()
    {
        int closedPort = ClosedPort();
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Backends[0].Url = $"http://127.0.0.1:{closedPort}", backendCount: 1);
        using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("502 backend unreachable\n", await response.Content.ReadAsStringAsync(Ct));
        Assert.Contains("loadwise_requests_total{backend=\"b1\",code=\"502\"} 1\n", proxy.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Response_header_timeout_gives_504_and_cancels_the_backend_request()
    {
        // On a fake clock: the backend would take 20 s; the test moves the proxy's time past its 30 s timeout instead.
        var time = new FakeTimeProvider();
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.HealthChecks.Enabled = false, backendCount: 1, time: time);
        Task<HttpResponseMessage> pending = proxy.Client.GetAsync("/delay/20000", Ct);
        await StrategyRoutingTests.WaitUntilAsync(() => proxy.Backends[0].Requests == 1);
        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(31));

        using HttpResponseMessage response = await pending.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("504 backend did not answer in time\n", await response.Content.ReadAsStringAsync(Ct));
        await StrategyRoutingTests.WaitUntilAsync(() => proxy.Backends[0].CancelledDelays == 1);
    }

    [Fact]
    public async Task Client_abort_cancels_the_upstream_request_and_counts_as_client_abort()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(backendCount: 1);
        using var resetting = new HttpClient(TestProxy.NewHandler(resetOnClose: true)) { BaseAddress = proxy.BaseUri };
        using (var abort = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            Task<HttpResponseMessage> pending = resetting.GetAsync("/delay/20000", abort.Token);
            await StrategyRoutingTests.WaitUntilAsync(() => proxy.Backends[0].Requests == 1);
            await abort.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        }

        // The backend's request is cancelled long before its 20 s delay would end.
        await StrategyRoutingTests.WaitUntilAsync(() => proxy.Backends[0].CancelledDelays == 1, timeoutMs: 5_000);
        await StrategyRoutingTests.WaitUntilAsync(() => proxy.Server.InFlight == 0, timeoutMs: 5_000);
        string metrics = proxy.Scrape();
        Assert.Contains("loadwise_requests_dropped_total{reason=\"client_abort\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("code=\"502\"", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("code=\"504\"", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_that_closes_while_waiting_is_a_client_abort_once_its_answer_cannot_be_sent()
    {
        // A FIN alone may be a half-close (the client still reads), so the request runs on, as in HAProxy; when the
        // answer comes and the client is gone, that is a client abort, not a backend failure.
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.HealthChecks.Enabled = false, backendCount: 1);
        using (var abort = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            Task<HttpResponseMessage> pending = proxy.Client.GetAsync("/delay/500", abort.Token);
            await StrategyRoutingTests.WaitUntilAsync(() => proxy.Backends[0].Requests == 1);
            await abort.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        }

        await StrategyRoutingTests.WaitUntilAsync(() => proxy.Server.InFlight == 0, timeoutMs: 5_000);
        Assert.Equal(0, proxy.Backends[0].CancelledDelays);
        Assert.Equal(new HealthState(HealthStatus.Healthy, 0, 0), proxy.Server.Health.Tracker.GetState("b1"));
        Assert.DoesNotContain("code=\"502\"", proxy.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Backend_error_statuses_pass_through_unchanged()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(backendCount: 1);
        using HttpResponseMessage response = await proxy.Client.GetAsync("/status/503", Ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("status", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task Stop_drains_an_in_flight_request_before_returning()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(backendCount: 1);
        Task<string> pending = proxy.Client.GetStringAsync("/delay/1000", Ct);
        await StrategyRoutingTests.WaitUntilAsync(() => proxy.Server.InFlight == 1);
        await proxy.Server.StopAsync(Ct);
        Assert.Equal("b1\n", await pending);
        Assert.Equal(0, proxy.Server.InFlight);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
