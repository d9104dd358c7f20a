namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>Ambiguous framing is refused at the edge and never reaches a backend; oversized headers give 431.</summary>
public abstract class SmugglingTests
{
    /// <summary>Gets whether the proxy listens on its own event loop (else on Kestrel's socket transport).</summary>
    protected abstract bool OnEventLoop { get; }

    public static TheoryData<string, string> Ambiguous => new()
    {
        {
            "Content-Length and Transfer-Encoding",
            "POST /echo HTTP/1.1\nHost: proxy\nContent-Length: 4\nTransfer-Encoding: chunked\n\n0\n\nGET /smuggled HTTP/1.1\nHost: proxy\n\n"
        },
        {
            "Transfer-Encoding and Content-Length",
            "POST /echo HTTP/1.1\nHost: proxy\nTransfer-Encoding: chunked\nContent-Length: 30\n\n0\n\nGET /smuggled HTTP/1.1\nHost: proxy\n\n"
        },
        {
            "two different Content-Lengths",
            "POST /echo HTTP/1.1\nHost: proxy\nContent-Length: 5\nContent-Length: 41\n\nhelloGET /smuggled HTTP/1.1\nHost: proxy\n\n"
        },
        {
            "a Content-Length list",
            "POST /echo HTTP/1.1\nHost: proxy\nContent-Length: 5, 41\n\nhelloGET /smuggled HTTP/1.1\nHost: proxy\n\n"
        },
        {
            "Transfer-Encoding that does not end in chunked",
            "POST /echo HTTP/1.1\nHost: proxy\nTransfer-Encoding: chunked, identity\n\n5\nhello\n0\n\n"
        },
    };

    [Theory]
    [MemberData(nameof(Ambiguous))]
    public async Task Ambiguous_framing_gets_400_and_reaches_no_backend(string why, string request)
    {
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, o => o.HealthChecks.Enabled = false);
        string response = await RawHttp.SendAsync(proxy.Port, request);
        Assert.True(response.StartsWith("HTTP/1.1 400 ", StringComparison.Ordinal), $"{why}: {response}");
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.All(proxy.Backends, b => Assert.Equal(0, b.Requests));
    }

    [Fact]
    public async Task Oversized_headers_get_431_and_reach_no_backend()
    {
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, o =>
        {
            o.HealthChecks.Enabled = false;
            o.Limits.MaxRequestHeadersTotalBytes = 4096;
        });
        string big = new('a', 8192);
        string response = await RawHttp.SendAsync(proxy.Port, $"GET / HTTP/1.1\nHost: proxy\nX-Big: {big}\n\n");
        Assert.StartsWith("HTTP/1.1 431 ", response, StringComparison.Ordinal);
        Assert.All(proxy.Backends, b => Assert.Equal(0, b.Requests));
    }

    [Fact]
    public async Task Too_many_headers_get_431()
    {
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, o =>
        {
            o.HealthChecks.Enabled = false;
            o.Limits.MaxRequestHeaderCount = 10;
        });
        var request = new System.Text.StringBuilder("GET / HTTP/1.1\nHost: proxy\n");
        for (int i = 0; i < 20; i++)
        {
            request.Append("X-H").Append(i).Append(": v\n");
        }

        string response = await RawHttp.SendAsync(proxy.Port, request.Append('\n').ToString());
        Assert.StartsWith("HTTP/1.1 431 ", response, StringComparison.Ordinal);
        Assert.All(proxy.Backends, b => Assert.Equal(0, b.Requests));
    }

    [Fact]
    public async Task A_well_formed_chunked_post_still_passes()
    {
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, o => o.HealthChecks.Enabled = false, backendCount: 1);
        string response = await RawHttp.SendAsync(proxy.Port, "POST /echo HTTP/1.1\nHost: proxy\nTransfer-Encoding: chunked\nConnection: close\n\n5\nhello\n0\n\n");
        Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);
        Assert.Contains("hello", response, StringComparison.Ordinal);
    }
}

/// <summary><see cref="SmugglingTests"/> with the listeners on the proxy's event loop (the default).</summary>
public sealed class SmugglingOnEventLoopTests : SmugglingTests
{
    protected override bool OnEventLoop => true;
}

/// <summary><see cref="SmugglingTests"/> with the listeners on Kestrel's socket transport.</summary>
public sealed class SmugglingOnSocketTransportTests : SmugglingTests
{
    protected override bool OnEventLoop => false;
}
