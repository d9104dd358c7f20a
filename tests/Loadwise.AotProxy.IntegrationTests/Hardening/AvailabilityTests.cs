using System.Diagnostics;
using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// What a client or a backend can do to the proxy's availability: make every backend look unhealthy, stall a body,
/// upload slowly, leave closed connections in the pool, or flood 1xx responses. None of it may take the service out
/// or hold resources for good.
/// </summary>
public abstract class AvailabilityTests : HardeningTestBase
{
    [Fact]
    public async Task A_client_that_makes_every_backend_rest_does_not_take_the_service_out()
    {
        // Two backends, each answering /throttle with a 300 s Retry-After: two requests would otherwise rest both.
        await using ScriptedBackend first = Backend(ThrottleOrOwn);
        await using ScriptedBackend second = Backend(ThrottleOrOwn);
        await using TestProxy proxy = await StartProxyAsync(first, options => options.Backends.Add(new BackendOptions { Id = "second", Url = second.Url }));

        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(429, (await RawConnection.ExchangeAsync(proxy.Port, "GET /throttle HTTP/1.1\r\nHost: proxy\r\n\r\n"))?.Status);
        }

        // Both rest, so fewer than half are available: the proxy picks among all of them (panic) and keeps serving.
        await AssertOthersServedAsync(proxy);
        Assert.Contains("loadwise_panic_picks_total", proxy.Scrape(), StringComparison.Ordinal);
        Assert.True(proxy.Server.Health.Filter.PanicPicks >= 4);
    }

    [Fact]
    public async Task A_backend_that_stalls_mid_body_is_given_up_after_the_body_idle_timeout()
    {
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
            // Stalls, keeping its side open, until the proxy closes the connection.
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            limit.CancelAfter(TimeSpan.FromSeconds(20));
            byte[] buffer = new byte[1];
            while (await stream.ReadAsync(buffer, limit.Token) > 0)
            {
            }

            return false;
        });
        await using TestProxy proxy = await StartProxyAsync(backend, o => o.Timeouts.ResponseBodyIdleMs = 500);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync("GET /stall HTTP/1.1\r\nHost: proxy\r\n\r\n");
        var clock = Stopwatch.StartNew();
        (_, bool closed) = await client.ReadToEndAsync(TimeSpan.FromSeconds(10));
        Assert.True(closed, "the client connection is cut once the backend has been idle too long");
        Assert.InRange(clock.ElapsedMilliseconds, 300, 5_000);
        await ScriptedBackend.WaitForAsync(() => backend.OpenConnections == 0, "the backend connection to close");
        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task An_idle_pooled_connection_the_backend_closed_is_closed_by_the_pool_without_a_request()
    {
        await using ScriptedBackend backend = Backend(async (stream, request) =>
        {
            await ScriptedBackend.OwnAsync(stream, request);
            return false; // closes after answering, without saying so
        });
        await using TestProxy proxy = await StartProxyAsync(backend, o => o.Timeouts.IdleMs = 600);
        if (Path == ProxyPath.HttpClient)
        {
            return; // HttpClient's own pool: not the proxy's to sweep
        }

        await AssertOthersServedAsync(proxy, clients: 1);
        await ScriptedBackend.WaitForAsync(() => proxy.Server.IdleBackendConnections == 0, "the pool to close the connection the backend closed", 3_000);
    }

    [Fact]
    public async Task A_flood_of_interim_responses_is_a_502_at_once()
    {
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            // Until the proxy gives up and closes (a write then fails), or 10 s.
            var clock = Stopwatch.StartNew();
            while (clock.ElapsedMilliseconds < 10_000)
            {
                await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n");
                await Task.Delay(1, Ct);
            }

            return false;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);
        if (Path == ProxyPath.HttpClient)
        {
            return; // HttpClient's limit on interim responses is its own
        }

        var clock = Stopwatch.StartNew();
        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /flood HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal(502, response?.Status);
        Assert.True(clock.ElapsedMilliseconds < 3_000, $"answered after {clock.ElapsedMilliseconds} ms");
        await AssertOthersServedAsync(proxy);
    }

    private static async Task<bool> ThrottleOrOwn(System.Net.Sockets.NetworkStream stream, ScriptedRequest request)
    {
        await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 300\r\nContent-Length: 4\r\n\r\nslow");
        return true;
    }
}

public sealed class AvailabilityOnEventLoopTests : AvailabilityTests
{
    protected override ProxyPath Path => ProxyPath.EventLoop;
}

public sealed class AvailabilityOnKestrelTests : AvailabilityTests
{
    protected override ProxyPath Path => ProxyPath.Kestrel;
}

public sealed class AvailabilityOnHttpClientTests : AvailabilityTests
{
    protected override ProxyPath Path => ProxyPath.HttpClient;
}
