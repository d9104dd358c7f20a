using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>Slowloris: clients that trickle headers or bodies lose their connection instead of holding it.</summary>
public abstract class SlowClientTests
{
    /// <summary>Gets whether the proxy listens on its own event loop (else on Kestrel's socket transport).</summary>
    protected abstract bool OnEventLoop { get; }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_client_that_never_finishes_its_headers_is_cut_off_after_the_headers_timeout()
    {
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, o =>
        {
            o.HealthChecks.Enabled = false;
            o.Limits.RequestHeadersTimeoutMs = 500;
        });
        (string answer, long elapsed) = await SendAndWaitForCloseAsync(proxy.Port, "GET / HTTP/1.1\r\nHost: proxy\r\nX-Slow: 1\r\n");
        Assert.True(answer.Length == 0 || answer.StartsWith("HTTP/1.1 408 ", StringComparison.Ordinal), answer);
        Assert.InRange(elapsed, 400, 5_000);
        Assert.All(proxy.Backends, b => Assert.Equal(0, b.Requests));
    }

    [Fact]
    public async Task A_body_slower_than_the_minimum_rate_is_cut_off_after_the_grace_period()
    {
        await using TestProxy proxy = await TestProxy.StartOnAsync(
            OnEventLoop,
            o =>
            {
                o.HealthChecks.Enabled = false;
                o.Limits.MinRequestBodyBytesPerSecond = 1_000;
                o.Limits.MinRequestBodyGraceMs = 2_000;
            },
            backendCount: 1);
        (string answer, long elapsed) = await SendAndWaitForCloseAsync(
            proxy.Port, "POST /sink HTTP/1.1\r\nHost: proxy\r\nContent-Length: 100000\r\n\r\n0123456789");
        Assert.True(answer.Length == 0 || answer.StartsWith("HTTP/1.1 408 ", StringComparison.Ordinal), answer);
        Assert.InRange(elapsed, 1_900, 8_000);
    }

    /// <summary>Sends the bytes, sends nothing more, and waits (at most 10 s) for the proxy to answer and close.</summary>
    private static async Task<(string Answer, long ElapsedMs)> SendAndWaitForCloseAsync(int port, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, Ct);
        NetworkStream stream = client.GetStream();
        var clock = Stopwatch.StartNew();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var text = new StringBuilder();
        byte[] buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                text.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
        }
        catch (IOException)
        {
            // A reset is as good as a close here.
        }

        Assert.False(timeout.IsCancellationRequested, "the proxy kept the slow connection open for 10 s");
        return (text.ToString(), clock.ElapsedMilliseconds);
    }
}

/// <summary><see cref="SlowClientTests"/> with the listeners on the proxy's event loop (the default).</summary>
public sealed class SlowClientOnEventLoopTests : SlowClientTests
{
    protected override bool OnEventLoop => true;
}

/// <summary><see cref="SlowClientTests"/> with the listeners on Kestrel's socket transport.</summary>
public sealed class SlowClientOnSocketTransportTests : SlowClientTests
{
    protected override bool OnEventLoop => false;
}
