using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// Streamed responses, as LLM routers relay them: server-sent events go to the client one by one as the backend sends
/// them, a long stream outlives the response-headers timeout, and a client that goes away ends the backend's request.
/// </summary>
public abstract class EventStreamTests : HardeningTestBase
{
    private const int Events = 10;

    [Theory]
    [InlineData("chunked")]
    [InlineData("close")]
    public async Task Each_event_reaches_the_client_before_the_backend_sends_the_next(string framing)
    {
        // Lock-step: the backend sends event i+1 only once the client saw event i, so a relay that held any event back
        // (coalescing, waiting for a fuller buffer) fails here whatever the machine's speed.
        long[] sent = new long[Events];
        var seen = new SemaphoreSlim(0);
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            string framingHeader = framing == "chunked" ? "Transfer-Encoding: chunked\r\n" : "Connection: close\r\n";
            await ScriptedBackend.WriteAsync(stream, $"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n{framingHeader}\r\n");
            for (int i = 0; i < Events; i++)
            {
                await Task.Delay(100, Ct);
                string data = $"data: {i}\n\n";
                sent[i] = Stopwatch.GetTimestamp();
                await ScriptedBackend.WriteAsync(stream, framing == "chunked" ? $"{data.Length:x}\r\n{data}\r\n" : data);
                if (!await seen.WaitAsync(TimeSpan.FromSeconds(5), Ct))
                {
                    return false; // the client never saw it: the stream stops here
                }
            }

            if (framing == "chunked")
            {
                await ScriptedBackend.WriteAsync(stream, "0\r\n\r\n");
                return true;
            }

            return false;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync("GET /events HTTP/1.1\r\nHost: proxy\r\nAccept: text/event-stream\r\n\r\n");
        Assert.NotNull(await client.ReadUntilAsync("\r\n\r\n"));
        var delays = new double[Events];
        for (int i = 0; i < Events; i++)
        {
            Assert.NotNull(await client.ReadUntilAsync($"data: {i}\n\n"));
            delays[i] = Stopwatch.GetElapsedTime(sent[i]).TotalMilliseconds;
            seen.Release();
        }

        // Each event crossed the proxy alone; the relay's delay, as a median so that one scheduling hiccup of a busy
        // test machine does not decide (the benchmark measures its p99 under load: bench/proxy/sse).
        Array.Sort(delays);
        Assert.True(delays[Events / 2] < 5, $"median relay delay {delays[Events / 2]:F2} ms; all: {string.Join(", ", delays.Select(d => d.ToString("F2")))}");
        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task A_long_stream_outlives_the_response_headers_timeout()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var seen = new SemaphoreSlim(0);
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
            for (int i = 0; i < Events; i++)
            {
                string data = $"data: {i}\n\n";
                await ScriptedBackend.WriteAsync(stream, $"{data.Length:x}\r\n{data}\r\n");
                if (!await seen.WaitAsync(TimeSpan.FromSeconds(5), Ct))
                {
                    return false;
                }
            }

            await ScriptedBackend.WriteAsync(stream, "0\r\n\r\n");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend, o =>
        {
            o.Timeouts.ResponseHeadersMs = 1_000;
            o.Timeouts.ResponseBodyIdleMs = 10_000;
        }, time);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync("GET /events HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.NotNull(await client.ReadUntilAsync("\r\n\r\n"));
        for (int i = 0; i < Events; i++)
        {
            Assert.NotNull(await client.ReadUntilAsync($"data: {i}\n\n"));
            // 5 s between events: 50 s in all, 50 times the headers timeout, each gap within the body idle timeout.
            time.Advance(TimeSpan.FromSeconds(5));
            seen.Release();
        }

        Assert.NotNull(await client.ReadUntilAsync("0\r\n\r\n"));
        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task A_client_that_resets_mid_stream_ends_the_backend_request_at_once()
    {
        var backendSawClose = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        long resetAt = 0;
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
            string data = "data: first\n\n";
            await ScriptedBackend.WriteAsync(stream, $"{data.Length:x}\r\n{data}\r\n");
            // Then silence, as a model thinking: only the proxy closing this connection ends the wait.
            try
            {
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                limit.CancelAfter(TimeSpan.FromSeconds(20));
                while (await stream.ReadAsync(new byte[256], limit.Token) > 0)
                {
                }

                backendSawClose.TrySetResult(Stopwatch.GetElapsedTime(Volatile.Read(ref resetAt)));
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                backendSawClose.TrySetResult(Stopwatch.GetElapsedTime(Volatile.Read(ref resetAt)));
            }
            catch (OperationCanceledException)
            {
                backendSawClose.TrySetException(new TimeoutException("the proxy kept the backend's request open after its client went away"));
            }

            return false;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        using (RawConnection client = await RawConnection.OpenAsync(proxy.Port))
        {
            await client.SendAsync("GET /events HTTP/1.1\r\nHost: proxy\r\n\r\n");
            Assert.NotNull(await client.ReadUntilAsync("data: first\n\n"));
            Volatile.Write(ref resetAt, Stopwatch.GetTimestamp());
            client.Reset();
        }

        // Well within the 60 s body idle timeout: the reset itself ends the request, not a later write or read deadline.
        TimeSpan closedAfter = await backendSawClose.Task.WaitAsync(TimeSpan.FromSeconds(25), Ct);
        Assert.True(closedAfter < TimeSpan.FromSeconds(5), $"the backend connection closed {closedAfter.TotalMilliseconds:F0} ms after the client's reset");
        await ScriptedBackend.WaitForAsync(() => proxy.Server.IdleBackendConnections == 0, "no pooled backend connection");
        await AssertOthersServedAsync(proxy);
    }
}

public sealed class EventStreamOnEventLoopTests : EventStreamTests
{
    protected override ProxyPath Path => ProxyPath.EventLoop;
}

public sealed class EventStreamOnSocketTransportTests : EventStreamTests
{
    protected override ProxyPath Path => ProxyPath.SocketTransport;
}

public sealed class EventStreamOnKestrelTests : EventStreamTests
{
    protected override ProxyPath Path => ProxyPath.Kestrel;
}

public sealed class EventStreamOnHttpClientTests : EventStreamTests
{
    protected override ProxyPath Path => ProxyPath.HttpClient;
}
