using System.Net;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.RateLimiting;
using Loadwise.AotProxy.Http;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>Per-client token buckets: who the client is, what over the limit looks like, and bounded memory.</summary>
public sealed class RateLimitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Limit(ProxyOptions o, int burst)
    {
        o.HealthChecks.Enabled = false;
        o.RateLimiting.Enabled = true;
        o.RateLimiting.TokensPerSecond = 1;
        o.RateLimiting.Burst = burst;
    }

    [Fact]
    public async Task A_burst_from_one_address_gets_429_after_the_bucket_empties_and_another_address_is_unaffected()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => Limit(o, 5));
        using var first = new HttpClient(TestProxy.NewHandler(IPAddress.Parse("127.0.0.2"))) { BaseAddress = proxy.BaseUri };
        using var second = new HttpClient(TestProxy.NewHandler(IPAddress.Parse("127.0.0.3"))) { BaseAddress = proxy.BaseUri };

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (int i = 0; i < 8; i++)
        {
            HttpResponseMessage response = await first.GetAsync("/", Ct);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited ??= response;
            }
            else
            {
                response.Dispose();
            }
        }

        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.OK, 5), .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, 3)], statuses);
        Assert.NotNull(limited);
        Assert.InRange(limited.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 2);
        Assert.Equal("429 too many requests from this client\n", await limited.Content.ReadAsStringAsync(Ct));
        limited.Dispose();

        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage other = await second.GetAsync("/", Ct);
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }

        Assert.Contains("loadwise_requests_dropped_total{reason=\"rate_limited\"} 3\n", proxy.Scrape(), StringComparison.Ordinal);
        Assert.Equal(10, proxy.Backends.Sum(b => b.Requests));
    }

    [Fact]
    public async Task A_spoofed_x_forwarded_for_from_an_untrusted_peer_does_not_change_the_bucket()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o =>
        {
            Limit(o, 3);
            o.Forwarding.TrustedProxies.Add("10.0.0.0/8");
        });
        using var client = new HttpClient(TestProxy.NewHandler(IPAddress.Parse("127.0.0.2"))) { BaseAddress = proxy.BaseUri };
        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage ok = await client.GetAsync("/", Ct);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        foreach (string spoofed in new[] { "203.0.113.9", "10.1.2.3", "127.0.0.3", "198.51.100.1, 203.0.113.7" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", spoofed);
            using HttpResponseMessage response = await client.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        }
    }

    [Fact]
    public async Task Behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o =>
        {
            Limit(o, 2);
            o.Forwarding.TrustedProxies.Add("127.0.0.4");
        });
        using var edge = new HttpClient(TestProxy.NewHandler(IPAddress.Parse("127.0.0.4"))) { BaseAddress = proxy.BaseUri };

        async Task<HttpStatusCode> GetAsFor(string forwardedFor)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", forwardedFor);
            using HttpResponseMessage response = await edge.SendAsync(request, Ct);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await GetAsFor("198.51.100.1"));
        Assert.Equal(HttpStatusCode.OK, await GetAsFor("198.51.100.1"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await GetAsFor("198.51.100.1"));

        // The rightmost untrusted address decides: a client cannot escape by prepending addresses of its own.
        Assert.Equal(HttpStatusCode.TooManyRequests, await GetAsFor("1.2.3.4, 198.51.100.1"));
        Assert.Equal(HttpStatusCode.OK, await GetAsFor("198.51.100.2"));
    }

    [Fact]
    public async Task Addresses_map_to_buckets_by_ipv4_address_and_ipv6_prefix()
    {
        await using var limiter = new ClientRateLimiter(new RateLimitingOptions { Enabled = true }, new ForwardedHeaders([]));
        Assert.Equal(limiter.KeyOf(IPAddress.Parse("192.0.2.1")), limiter.KeyOf(IPAddress.Parse("::ffff:192.0.2.1")));
        Assert.NotEqual(limiter.KeyOf(IPAddress.Parse("192.0.2.1")), limiter.KeyOf(IPAddress.Parse("192.0.2.2")));
        Assert.Equal(limiter.KeyOf(IPAddress.Parse("2001:db8:1:2::1")), limiter.KeyOf(IPAddress.Parse("2001:db8:1:2:ffff::9")));
        Assert.NotEqual(limiter.KeyOf(IPAddress.Parse("2001:db8:1:2::1")), limiter.KeyOf(IPAddress.Parse("2001:db8:1:3::1")));
        Assert.NotEqual(limiter.KeyOf(IPAddress.Parse("::1")), limiter.KeyOf(IPAddress.Parse("127.0.0.1")));
        Assert.Equal(UInt128.Zero, limiter.KeyOf(null));

        await using var exact = new ClientRateLimiter(new RateLimitingOptions { Enabled = true, IPv6PrefixLength = 128 }, new ForwardedHeaders([]));
        Assert.NotEqual(exact.KeyOf(IPAddress.Parse("2001:db8:1:2::1")), exact.KeyOf(IPAddress.Parse("2001:db8:1:2::2")));
    }

    [Fact]
    public async Task One_hundred_thousand_clients_fit_in_bounded_memory_and_idle_buckets_are_evicted()
    {
        const int Clients = 100_000;
        var options = new RateLimitingOptions { Enabled = true, TokensPerSecond = 1_000, Burst = 10 };
        long baseline = Heap();
        long filled;
        long evicted = long.MaxValue;
        long refilled;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double evictedAfter = 0;
        await using (var limiter = new ClientRateLimiter(options, new ForwardedHeaders([])))
        {
            AcquireForDistinctClients(limiter, 0x0A000000, Clients);
            filled = Heap();

            // A bucket is idle once it is full again (10 ms here); the partitioned limiter drops buckets idle for 10 s.
            var deadline = DateTime.UtcNow.AddSeconds(25);
            while (DateTime.UtcNow < deadline)
            {
                await Task.Delay(500, Ct);
                evicted = Heap();
                if (evicted - baseline < (filled - baseline) / 2)
                {
                    break;
                }
            }

            evictedAfter = clock.Elapsed.TotalSeconds;

            // A second wave of 100,000 other clients reuses the space: memory follows the peak of live clients, not
            // every client ever seen.
            AcquireForDistinctClients(limiter, 0x0B000000, Clients);
            refilled = Heap();
            GC.KeepAlive(limiter);
        }

        double perClient = (double)(filled - baseline) / Clients;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"managed heap: {baseline / 1024} KiB before; {filled / 1024} KiB with {Clients} live buckets ({perClient:F0} B each); "
            + $"{evicted / 1024} KiB after eviction ({evictedAfter:F1} s after the first request); {refilled / 1024} KiB with a second wave of {Clients} other clients");
        Assert.True(perClient < 1_024, $"{perClient:F0} B per client");
        Assert.True(evicted - baseline < (filled - baseline) / 2, $"heap still {(evicted - baseline) / 1024} KiB above the baseline");
        Assert.True(refilled - baseline < (filled - baseline) * 12 / 10, $"second wave: {(refilled - baseline) / 1024} KiB above the baseline");
    }

    private static void AcquireForDistinctClients(ClientRateLimiter limiter, int first, int count)
    {
        Span<byte> bytes = stackalloc byte[4];
        for (int i = 0; i < count; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes, first | i);
            Assert.True(limiter.TryAcquire(limiter.KeyOf(new IPAddress(bytes)), out _));
        }
    }

    private static long Heap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
