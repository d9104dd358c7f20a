namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// A backend that sends bytes after its response has ended (a body after 204 or 304 or a HEAD answer, more than its
/// Content-Length, bytes after the last chunk, a whole second response) must never have them taken for the next
/// request's response (RFC 9112 section 6.3: "a client MUST NOT treat such extra data as a separate response"): the
/// connection is closed, as nginx and HAProxy close an idle upstream connection that becomes readable.
/// </summary>
public abstract class StrayBytesTests : HardeningTestBase
{
    private const string Stolen = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nstolen";

    public static TheoryData<string, string, string, string, bool> Cases => new()
    {
        // name, method, response, stray bytes, sent in the same segment as the response
        { "a response after a 204", "GET", "HTTP/1.1 204 No Content\r\n\r\n", Stolen, false },
        { "a body after a 204 that announced one", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 6\r\n\r\n", "stolen", true },
        { "a response after a 304", "GET", "HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\n\r\n", Stolen, false },
        { "the body of a HEAD answer", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", "stolen", false },
        { "a response after a HEAD answer", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", Stolen, false },
        { "more than the Content-Length, later", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Stolen, false },
        { "more than the Content-Length, at once", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Stolen, true },
        { "bytes after the last chunk, later", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", Stolen, false },
        { "bytes after the last chunk, at once", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", Stolen, true },
        { "a 1xx that announces a body", "GET", "HTTP/1.1 103 Early Hints\r\nContent-Length: 6\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Stolen, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bytes_after_a_response_never_reach_another_client(string name, string method, string response, string stray, bool sameSegment)
    {
        var strayWritten = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using ScriptedBackend backend = Backend(async (stream, request) =>
        {
            if (sameSegment)
            {
                await ScriptedBackend.WriteAsync(stream, response + stray);
            }
            else
            {
                await ScriptedBackend.WriteAsync(stream, response);
                await Task.Delay(30, Ct);
                await ScriptedBackend.WriteAsync(stream, stray);
            }

            strayWritten.TrySetResult();
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        // The client that asked gets the response, framed so that its connection carries on with its own next answer.
        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync($"{method} /first HTTP/1.1\r\nHost: proxy\r\n\r\n");
        WireResponse? first = await client.ReadResponseAsync(headRequest: method == "HEAD");
        Assert.NotNull(first);
        Assert.Equal(int.Parse(response.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture) is >= 200 and var s ? s : 200, first.Status);
        await strayWritten.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        await Task.Delay(50, Ct); // the stray bytes reach the proxy while the connection is idle
        await client.SendAsync("GET /own/same-client HTTP/1.1\r\nHost: proxy\r\n\r\n");
        WireResponse? second = await client.ReadResponseAsync();
        Assert.True(second is { Status: 200 } && second.Text == "own:/own/same-client", $"{name}: the same client's next answer was {second?.Status} {second?.Text}");

        await AssertOthersServedAsync(proxy);

        // The backend saw the first request on its first connection, and nothing else was ever sent on that one.
        ScriptedRequest[] received = backend.Requests;
        Assert.Equal($"{method} /first HTTP/1.1", received[0].RequestLine);
        Assert.All(received.Skip(1), r => Assert.NotEqual(received[0].Connection, r.Connection));
    }
}

public sealed class StrayBytesOnEventLoopTests : StrayBytesTests
{
    protected override ProxyPath Path => ProxyPath.EventLoop;
}

public sealed class StrayBytesOnSocketTransportTests : StrayBytesTests
{
    protected override ProxyPath Path => ProxyPath.SocketTransport;
}

public sealed class StrayBytesOnKestrelTests : StrayBytesTests
{
    protected override ProxyPath Path => ProxyPath.Kestrel;
}

public sealed class StrayBytesOnHttpClientTests : StrayBytesTests
{
    protected override ProxyPath Path => ProxyPath.HttpClient;
}
