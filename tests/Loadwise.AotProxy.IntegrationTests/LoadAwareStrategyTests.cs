using Microsoft.AspNetCore.Http;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// PeakEwma and bounded-load hashing through the real proxy and real backends: the forwarder's latency reports steer
/// PeakEwma away from a slow backend, and <c>Strategy:HashBalanceFactor</c> spreads a hot key.
/// </summary>
public sealed class LoadAwareStrategyTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Note(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    /// <summary>Answers <c>/work</c> after <paramref name="delays"/>[index] milliseconds with the backend's name, and <c>/fail</c> on backend 3 with an instant 500.</summary>
    private static Func<int, HttpContext, Task<bool>> Route(int[] delays) => async (index, context) =>
    {
        string? path = context.Request.Path.Value;
        if (path == "/work" || (path == "/fail" && index != 2))
        {
            await Task.Delay(delays[index], context.RequestAborted);
            await context.Response.WriteAsync($"b{index + 1}\n", context.RequestAborted);
            return true;
        }

        if (path == "/fail")
        {
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            await context.Response.WriteAsync($"b{index + 1}\n", context.RequestAborted);
            return true;
        }

        return false;
    };

    /// <summary>Sends <paramref name="requests"/> sequential requests and returns the share of backend 3 (index 2).</summary>
    private static async Task<double> ThirdBackendShareAsync(TestProxy proxy, int requests, string path)
    {
        int before = proxy.Backends[2].Requests;
        for (int i = 0; i < requests; i++)
        {
            using HttpResponseMessage response = await proxy.Client.GetAsync(path, Ct);
            await response.Content.ReadAsStringAsync(Ct);
        }

        return (proxy.Backends[2].Requests - before) / (double)requests;
    }

    [Fact]
    public async Task A_client_that_trickles_its_upload_does_not_make_a_backend_look_slow_to_PeakEwma()
    {
        Func<int, HttpContext, Task<bool>> route = async (index, context) =>
        {
            // Every backend answers at once once it has the whole body.
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            await context.Response.WriteAsync($"b{index + 1}\n", context.RequestAborted);
            return true;
        };
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Strategy.Name = "PeakEwma", route: route);

        // A chunked upload (streamed, not held) that takes about a second to arrive.
        using HttpResponseMessage response = await proxy.Client.PostAsync("/upload", new TrickledContent(chunks: 10, TimeSpan.FromMilliseconds(100)), Ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);

        PeakEwmaTracker latency = proxy.Server.Latency!;
        for (int i = 0; i < 3; i++)
        {
            // Without the rule the uploaded-to backend's average would be the upload's ~1,000 ms.
            Assert.True(latency.Average(i) < TimeSpan.FromMilliseconds(200), $"backend {i + 1}: {latency.Average(i).TotalMilliseconds:F0} ms");
            Assert.Equal(0, latency.InFlight(i));
        }
    }

    /// <summary>A body of unknown length (sent chunked) written a chunk at a time with a pause between.</summary>
    private sealed class TrickledContent(int chunks, TimeSpan pause) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            byte[] chunk = new byte[512];
            for (int i = 0; i < chunks; i++)
            {
                await stream.WriteAsync(chunk);
                await stream.FlushAsync();
                await Task.Delay(pause);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Fact]
    public async Task PeakEwma_gives_a_ten_times_slower_backend_a_small_share_where_RoundRobin_gives_it_a_third()
    {
        // Backends 1 and 2 answer in 5 ms, backend 3 in 50 ms.
        int[] delays = [5, 5, 50];
        const int Requests = 60;
        double roundRobin;
        await using (TestProxy proxy = await TestProxy.StartAsync(o => o.Strategy.Name = "RoundRobin", route: Route(delays)))
        {
            roundRobin = await ThirdBackendShareAsync(proxy, Requests, "/work");
        }

        await using (TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                o.Strategy.Name = "PeakEwma";
                o.Strategy.Seed = 3;
            },
            route: Route(delays)))
        {
            double peakEwma = await ThirdBackendShareAsync(proxy, Requests, "/work");
            PeakEwmaTracker latency = proxy.Server.Latency!;
            Note($"share of the slow backend: RoundRobin {roundRobin:P1}, PeakEwma {peakEwma:P1}; averages {latency.Average(0).TotalMilliseconds:F1} / {latency.Average(1).TotalMilliseconds:F1} / {latency.Average(2).TotalMilliseconds:F1} ms");
            Assert.Equal(1 / 3.0, roundRobin, 3);
            Assert.True(peakEwma <= 0.10, $"PeakEwma sent {peakEwma:P1} to the slow backend");

            // The latency reached the tracker as time to the response head: the slow backend's average is its 50 ms
            // (decayed a little since), the others' a few milliseconds.
            Assert.InRange(latency.Average(2).TotalMilliseconds, 30, 1_000);
            Assert.Equal(0, latency.InFlight(0) + latency.InFlight(1) + latency.InFlight(2));
        }
    }

    [Fact]
    public async Task PeakEwma_measures_to_the_response_head_not_to_the_end_of_the_body()
    {
        // One backend sends its head at once and its body 600 ms later: the latency reported is the head's.
        await using TestProxy proxy = await TestProxy.StartAsync(
            o => o.Strategy.Name = "PeakEwma",
            backendCount: 1,
            route: async (_, context) =>
            {
                if (context.Request.Path.Value != "/late-body")
                {
                    return false;
                }

                context.Response.ContentLength = 5;
                await context.Response.Body.FlushAsync(context.RequestAborted);
                await Task.Delay(600, context.RequestAborted);
                await context.Response.WriteAsync("late\n", context.RequestAborted);
                return true;
            });
        var started = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("late\n", await proxy.Client.GetStringAsync("/late-body", Ct));
        Assert.True(started.ElapsedMilliseconds >= 600);
        double reported = proxy.Server.Latency!.Average(0).TotalMilliseconds;
        Note($"reported {reported:F1} ms for a response whose body ended after {started.ElapsedMilliseconds} ms");
        Assert.InRange(reported, 0.001, 300);
    }

    [Fact]
    public async Task PeakEwma_charges_a_backend_that_fails_at_once_the_failure_penalty()
    {
        // Backend 3 answers 500 at once; the others answer 200 in 5 ms. Passive health is off, so only PeakEwma decides.
        int[] delays = [5, 5, 0];
        async Task<double> RunAsync(int penaltyMs)
        {
            await using TestProxy proxy = await TestProxy.StartAsync(
                o =>
                {
                    o.Strategy.Name = "PeakEwma";
                    o.Strategy.Seed = 5;
                    o.Strategy.FailurePenaltyMs = penaltyMs;
                    o.HealthChecks.Passive.Enabled = false;
                    o.Retries.Count = 0;
                },
                route: Route(delays));
            return await ThirdBackendShareAsync(proxy, 60, "/fail");
        }

        double charged = await RunAsync(1_000);
        double uncharged = await RunAsync(0);
        Note($"share of the failing backend: penalty 1000 ms {charged:P1}, no penalty {uncharged:P1}");
        Assert.True(charged <= 0.10, $"with the penalty the failing backend took {charged:P1}");
        Assert.True(uncharged >= 0.40, $"without the penalty the failing backend should look fastest, it took {uncharged:P1}");
    }

    [Theory]
    [InlineData("ConsistentHash")]
    [InlineData("Maglev")]
    public async Task A_hash_balance_factor_keeps_a_hot_key_from_loading_one_backend(string strategy)
    {
        // Every request comes from 127.0.0.1, so with the default key (the client address) it is one hot key.
        const int Concurrent = 30;
        async Task<int[]> InFlightPerBackendAsync(int factor)
        {
            await using TestProxy proxy = await TestProxy.StartAsync(o =>
            {
                o.Strategy.Name = strategy;
                o.Strategy.HashBalanceFactor = factor;
            });
            var pending = new Task<string>[Concurrent];
            for (int i = 0; i < Concurrent; i++)
            {
                pending[i] = proxy.Client.GetStringAsync("/delay/400", Ct);
            }

            await StrategyRoutingTests.WaitUntilAsync(() => proxy.Backends.Sum(b => b.Requests) == Concurrent);
            int[] loads = [.. proxy.Backends.Select(b => b.Requests)];
            await Task.WhenAll(pending);
            return loads;
        }

        int[] plain = await InFlightPerBackendAsync(0);
        int[] bounded = await InFlightPerBackendAsync(125);
        Note($"{strategy}: in flight per backend, unbounded [{string.Join(", ", plain)}], factor 125 [{string.Join(", ", bounded)}]");
        Assert.Equal(Concurrent, plain.Max());

        // ceil(1.25 x 30 / 3) = 13 at most on any backend; two picks racing on the event loop's threads may overshoot by one each.
        Assert.True(bounded.Max() <= 15, $"the hot key's backend took {bounded.Max()} of {Concurrent}");
        Assert.All(bounded, load => Assert.True(load >= 3, $"a backend took only {load} of {Concurrent}"));
    }
}
