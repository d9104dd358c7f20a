using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Http;
using Loadwise.AotProxy.Backends;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// Backends that die, fail, rest or crawl, behind a real proxy. Every load loop is bounded in time and count and
/// targets 127.0.0.1 only.
/// </summary>
public sealed class FaultTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Note(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    [Fact]
    public async Task A_backend_that_dies_under_load_costs_clients_nothing_and_comes_back_through_recovering()
    {
        // A backend killed under load from 50 concurrent clients; about 8 s instead of 20 s to keep the suite short on 2 cores.
        const int Clients = 50;
        await using TestProxy proxy = await TestProxy.StartAsync();
        Backend victim = proxy.Server.Backends[1];
        var clock = Stopwatch.StartNew();
        var transitions = new ConcurrentQueue<(HealthStatus From, HealthStatus To, long AtMs)>();
        proxy.Server.Health.Tracker.HealthChanged += (_, e) =>
        {
            if (e.NodeId == victim.Id)
            {
                transitions.Enqueue((e.From, e.To, clock.ElapsedMilliseconds));
            }
        };

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        stop.CancelAfter(TimeSpan.FromSeconds(20));
        var failures = new ConcurrentQueue<string>();
        long succeeded = 0;
        Task[] clients = new Task[Clients];
        for (int c = 0; c < Clients; c++)
        {
            clients[c] = Task.Run(async () =>
            {
                for (int i = 0; i < 100_000 && !stop.IsCancellationRequested; i++)
                {
                    try
                    {
                        using HttpResponseMessage response = await proxy.Client.GetAsync("/", stop.Token);
                        string body = await response.Content.ReadAsStringAsync(stop.Token);
                        if (response.StatusCode == HttpStatusCode.OK && body.StartsWith('b'))
                        {
                            Interlocked.Increment(ref succeeded);
                        }
                        else
                        {
                            failures.Enqueue($"{(int)response.StatusCode} {body.Trim()}");
                        }
                    }
                    catch (OperationCanceledException) when (stop.IsCancellationRequested)
                    {
                        return;
                    }
                    catch (HttpRequestException e)
                    {
                        failures.Enqueue(e.Message);
                    }
                }
            }, Ct);
        }

        await Task.Delay(1_500, Ct);
        Assert.True(victim.Attempts > 0);
        long killedAt = clock.ElapsedMilliseconds;
        await proxy.Backends[1].KillAsync();
        await Task.Delay(2_000, Ct);
        long attemptsAt2s = victim.Attempts;
        await Task.Delay(1_500, Ct);
        long attemptsBeforeRestart = victim.Attempts;
        Assert.Equal(HealthStatus.Unhealthy, victim.Health!.Status);

        long restartedAt = clock.ElapsedMilliseconds;
        await proxy.RestartBackendAsync(1);
        await StrategyRoutingTests.WaitUntilAsync(() => victim.Health.Status == HealthStatus.Healthy && proxy.Backends[1].Requests > 0, timeoutMs: 8_000);
        await stop.CancelAsync();
        await Task.WhenAll(clients);

        (HealthStatus From, HealthStatus To, long AtMs)[] seen = [.. transitions];
        long ejectedAfter = seen.First(t => t.To == HealthStatus.Unhealthy).AtMs - killedAt;
        long recoveringAfter = seen.First(t => t.To == HealthStatus.Recovering).AtMs - restartedAt;
        Note($"{Clients} clients, {succeeded} GETs answered 200, {failures.Count} failed; dead backend ejected {ejectedAfter} ms after the kill; "
            + $"attempts on it after kill+2 s: {attemptsBeforeRestart - attemptsAt2s}; Recovering {recoveringAfter} ms after the restart; "
            + $"transitions {string.Join(", ", seen.Select(t => $"{t.From}->{t.To}@{t.AtMs}"))}");

        Assert.Empty(failures);
        Assert.True(succeeded > 1_000, $"only {succeeded} requests were answered");
        Assert.Equal(attemptsAt2s, attemptsBeforeRestart);
        Assert.True(ejectedAfter < 2_000, $"ejected {ejectedAfter} ms after the kill");

        // Back through Recovering after the restart: Unhealthy -> Recovering, then Recovering -> Healthy. (Core may deliver
        // the events of racing changes out of order, so the test looks for the changes rather than their positions.)
        Assert.Contains(seen, t => t.From == HealthStatus.Unhealthy && t.To == HealthStatus.Recovering && t.AtMs >= restartedAt);
        Assert.Contains(seen, t => t.From == HealthStatus.Recovering && t.To == HealthStatus.Healthy && t.AtMs >= restartedAt);
        Assert.DoesNotContain(seen, t => t.From == HealthStatus.Unhealthy && t.To == HealthStatus.Healthy);
        Assert.Contains("retried", proxy.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_traffic_probes_eject_a_dead_backend_within_2_s_under_the_defaults()
    {
        await using TestProxy proxy = await TestProxy.StartAsync();
        Backend victim = proxy.Server.Backends[0];
        await Task.Delay(1_300, Ct);
        var clock = Stopwatch.StartNew();
        await proxy.Backends[0].KillAsync();
        await StrategyRoutingTests.WaitUntilAsync(() => victim.Health!.Status == HealthStatus.Unhealthy, timeoutMs: 5_000);
        long ejected = clock.ElapsedMilliseconds;
        Note($"probes alone ejected the dead backend {ejected} ms after the kill");
        Assert.True(ejected <= 2_300, $"ejected after {ejected} ms");

        // Nothing reaches it now: every request is answered by the others.
        Dictionary<string, int> counts = await proxy.CountAsync(30);
        Assert.Equal(["b2", "b3"], counts.Keys.Order());
        Assert.Contains("loadwise_backend_health{backend=\"b1\",state=\"unhealthy\"} 1\n", proxy.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_backend_answering_500_is_ejected_by_passive_health()
    {
        // Active probes off (its /health would say 200): passive reports alone eject it, after UnhealthyThreshold (2) failures.
        await using TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                o.HealthChecks.Enabled = false;
                o.HealthChecks.IntervalMs = 60_000;
            },
            route: (index, context) => index == 2 && context.Request.Path == "/" ? Answer(context, 500) : Task.FromResult(false));

        int errors = 0;
        for (int i = 0; i < 60; i++)
        {
            using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);
            errors += response.StatusCode == HttpStatusCode.InternalServerError ? 1 : 0;
        }

        Assert.Equal(2, errors);
        Assert.Equal(2, proxy.Backends[2].Requests);
        Assert.Equal(HealthStatus.Unhealthy, proxy.Server.Backends[2].Health!.Status);
        string metrics = proxy.Scrape();
        Assert.Contains("loadwise_backend_health{backend=\"b3\",state=\"unhealthy\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("loadwise_backend_health{backend=\"b3\",state=\"healthy\"} 0\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_probes_an_ejected_backend_is_let_back_in_through_recovering_each_interval()
    {
        int failuresLeft = 2;
        await using TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                o.HealthChecks.Enabled = false;
                o.HealthChecks.IntervalMs = 500;
            },
            backendCount: 2,
            route: (index, context) => index == 0 && context.Request.Path == "/" && Interlocked.Decrement(ref failuresLeft) >= 0
                ? Answer(context, 503)
                : Task.FromResult(false));
        var seen = new ConcurrentQueue<HealthStatus>();
        proxy.Server.Health.Tracker.HealthChanged += (_, e) =>
        {
            if (e.NodeId == "b1")
            {
                seen.Enqueue(e.To);
            }
        };

        Backend sick = proxy.Server.Backends[0];
        for (int i = 0; i < 4; i++)
        {
            using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);
        }

        Assert.Equal(HealthStatus.Unhealthy, sick.Health!.Status);
        var run = Stopwatch.StartNew();
        while (sick.Health.Status != HealthStatus.Healthy && run.ElapsedMilliseconds < 5_000)
        {
            using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await Task.Delay(20, Ct);
        }

        Assert.Equal(HealthStatus.Healthy, sick.Health.Status);
        Assert.Contains(HealthStatus.Recovering, seen);
    }

    [Fact]
    public async Task A_client_abort_is_not_a_backend_failure()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.HealthChecks.Enabled = false, backendCount: 1);
        using var resetting = new HttpClient(TestProxy.NewHandler(resetOnClose: true)) { BaseAddress = proxy.BaseUri };
        for (int i = 0; i < 3; i++)
        {
            using var abort = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            Task<HttpResponseMessage> pending = resetting.GetAsync("/delay/20000", abort.Token);
            await StrategyRoutingTests.WaitUntilAsync(() => proxy.Backends[0].Requests == i + 1);
            await abort.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        }

        await StrategyRoutingTests.WaitUntilAsync(() => proxy.Server.InFlight == 0, timeoutMs: 5_000);
        Assert.Equal(new HealthState(HealthStatus.Healthy, 0, 0), proxy.Server.Health.Tracker.GetState("b1"));
    }

    [Fact]
    public async Task A_status_outside_the_failure_set_does_not_eject()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                o.HealthChecks.Enabled = false;
                o.HealthChecks.Passive.FailureStatusCodes = "502-504";
            },
            backendCount: 1,
            route: (_, context) => context.Request.Path == "/" ? Answer(context, 500) : Task.FromResult(false));
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        }

        Assert.Equal(HealthStatus.Healthy, proxy.Server.Backends[0].Health!.Status);
    }

    [Fact]
    public async Task A_backend_answering_429_with_retry_after_2_rests_2_s_then_takes_traffic_again()
    {
        var clock = Stopwatch.StartNew();
        var hits = new ConcurrentQueue<long>();
        long limitedAt = -1;
        // Probes off, so that only the 429 can have touched the backend's state (it must stay Healthy: a rest is no failure).
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.HealthChecks.Enabled = false, route: (index, context) =>
        {
            if (index != 2 || context.Request.Path != "/")
            {
                return Task.FromResult(false);
            }

            long now = clock.ElapsedMilliseconds;
            hits.Enqueue(now);
            if (Interlocked.CompareExchange(ref limitedAt, now, -1) == -1)
            {
                context.Response.Headers.RetryAfter = "2";
                return Answer(context, 429);
            }

            return Task.FromResult(false);
        });

        int limited = 0;
        var run = Stopwatch.StartNew();
        for (int i = 0; i < 400 && run.ElapsedMilliseconds < 3_500; i++)
        {
            using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);
            limited += response.StatusCode == HttpStatusCode.TooManyRequests ? 1 : 0;
            await Task.Delay(15, Ct);
        }

        long[] times = [.. hits];
        Assert.Equal(1, limited);
        int first = Array.IndexOf(times, Volatile.Read(ref limitedAt));
        Assert.True(first >= 0 && first + 1 < times.Length, "the backend got no traffic after its rest");
        long rest = times[first + 1] - times[first];
        Note($"rested {rest} ms after Retry-After: 2; {times.Length - first - 1} requests after the rest");
        Assert.InRange(rest, 1_950, 3_000);
        Assert.True(times.Length - first - 1 >= 3);
        Assert.Equal(HealthStatus.Healthy, proxy.Server.Backends[2].Health!.Status);
    }

    [Fact]
    public async Task When_every_backend_rests_the_proxy_answers_503_with_retry_after()
    {
        // Panic off: with it (the default), requests would go to the resting backends rather than be refused.
        await using TestProxy proxy = await TestProxy.StartAsync(o => { o.HealthChecks.Enabled = false; o.HealthChecks.PanicThresholdPercent = 0; }, route: (_, context) =>
        {
            if (context.Request.Path != "/busy")
            {
                return Task.FromResult(false);
            }

            context.Response.Headers.RetryAfter = "5";
            return Answer(context, 503);
        });
        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage busy = await proxy.Client.GetAsync("/busy", Ct);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
        }

        using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("503 no backend available\n", await response.Content.ReadAsStringAsync(Ct));
        Assert.InRange(response.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 4, 5);
        Assert.All(proxy.Server.Backends, b => Assert.Equal(HealthStatus.Healthy, b.Health!.Status));
    }

    [Fact]
    public async Task A_slow_backend_gives_504_in_time_while_the_clients_other_requests_pass()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Timeouts.ResponseHeadersMs = 500);
        var clock = Stopwatch.StartNew();
        Task<HttpResponseMessage> slow = proxy.Client.GetAsync("/delay/5000", Ct);
        var others = new List<Task<HttpResponseMessage>>();
        for (int i = 0; i < 20; i++)
        {
            others.Add(proxy.Client.GetAsync("/", Ct));
        }

        HttpResponseMessage[] answered = await Task.WhenAll(others);
        Assert.All(answered, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        using HttpResponseMessage timedOut = await slow;
        long elapsed = clock.ElapsedMilliseconds;
        Note($"504 after {elapsed} ms (timeout 500 ms)");
        Assert.Equal(HttpStatusCode.GatewayTimeout, timedOut.StatusCode);
        Assert.InRange(elapsed, 450, 3_000);
        foreach (HttpResponseMessage r in answered)
        {
            r.Dispose();
        }
    }

    [Fact]
    public async Task A_failed_connect_is_retried_on_another_backend_even_with_a_body()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                o.HealthChecks.Enabled = false;
                o.Backends[0].Url = $"http://127.0.0.1:{ClosedPort()}";
            },
            backendCount: 2);
        for (int i = 0; i < 2; i++)
        {
            using var content = new StringContent("payload " + i);
            using HttpResponseMessage response = await proxy.Client.PostAsync("/echo", content, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("payload " + i, await response.Content.ReadAsStringAsync(Ct));
        }

        Assert.True(proxy.Server.Backends[0].Attempts >= 1);
        Assert.Contains("loadwise_retries_total{result=\"retried\"}", proxy.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_idempotent_request_cut_before_any_response_byte_is_retried_and_a_post_is_not()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(
            o => o.HealthChecks.Enabled = false,
            backendCount: 2,
            route: (index, context) =>
            {
                if (index == 0 && context.Request.Path == "/cut")
                {
                    context.Abort();
                    return Task.FromResult(true);
                }

                return index == 1 && context.Request.Path == "/cut" ? Answer(context, 200) : Task.FromResult(false);
            });

        // Round robin starts at b1: the GET is cut there and answered by b2.
        using HttpResponseMessage get = await proxy.Client.GetAsync("/cut", Ct);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(1, proxy.Backends[0].Requests);

        // A POST that reached b1 is not resent (it may have had an effect there).
        HttpResponseMessage post;
        do
        {
            using var content = new StringContent("x");
            post = await proxy.Client.PostAsync("/cut", content, Ct);
        }
        while (post.StatusCode == HttpStatusCode.OK && proxy.Backends[0].Requests < 3);

        Assert.Equal(HttpStatusCode.BadGateway, post.StatusCode);
        post.Dispose();
    }

    [Fact]
    public async Task A_response_that_started_is_never_retried()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(
            o => o.HealthChecks.Enabled = false,
            backendCount: 2,
            route: async (index, context) =>
            {
                if (context.Request.Path != "/half")
                {
                    return false;
                }

                context.Response.ContentLength = 1_000;
                await context.Response.Body.WriteAsync("partial"u8.ToArray());
                await context.Response.Body.FlushAsync();
                await Task.Delay(100);
                context.Abort();
                return true;
            });
        await Assert.ThrowsAnyAsync<HttpRequestException>(async () =>
        {
            using HttpResponseMessage response = await proxy.Client.GetAsync("/half", Ct);
            await response.Content.ReadAsByteArrayAsync(Ct);
        });
        Assert.Equal(1, proxy.Backends[0].Requests + proxy.Backends[1].Requests);
    }

    [Fact]
    public async Task An_empty_retry_budget_stops_retries()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                o.HealthChecks.Enabled = false;
                o.Retries.BudgetMinRetries = 0;
                o.Retries.BudgetPercent = 0;
                o.Backends[0].Url = $"http://127.0.0.1:{ClosedPort()}";
            },
            backendCount: 2);
        using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("loadwise_retries_total{result=\"budget_exhausted\"} 1\n", proxy.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retries_off_answers_the_first_failure()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                o.HealthChecks.Enabled = false;
                o.Retries.Count = 0;
                o.Backends[0].Url = $"http://127.0.0.1:{ClosedPort()}";
            },
            backendCount: 2);
        using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(0, proxy.Backends[1].Requests);
    }

    internal static async Task<bool> Answer(HttpContext context, int status)
    {
        context.Response.StatusCode = status;
        await context.Response.WriteAsync(status.ToString(CultureInfo.InvariantCulture));
        return true;
    }

    internal static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
