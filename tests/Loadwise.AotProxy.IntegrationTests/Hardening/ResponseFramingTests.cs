using System.Text;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// Every response the proxy relays is framed (by a length, by chunking, or by closing), whatever the backend's headers
/// say, and a response the proxy cannot frame safely is a 502 with the backend connection closed.
/// </summary>
public abstract class ResponseFramingTests : HardeningTestBase
{
    [Fact]
    public async Task A_Connection_header_naming_Content_Length_does_not_unframe_the_body()
    {
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        // Two requests on one client connection: the second answer must start where the first one ends.
        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync("GET /first HTTP/1.1\r\nHost: proxy\r\n\r\n");
        WireResponse? first = await client.ReadResponseAsync();
        Assert.NotNull(first);
        Assert.True(first is { Status: 200, Text: "hello" }, $"got {first.Status} {first.Text}");
        Assert.True(first.Header("Content-Length") == "5" || first.Header("Transfer-Encoding") == "chunked", "the relayed body is framed");
        await client.SendAsync("GET /own/second HTTP/1.1\r\nHost: proxy\r\n\r\n");
        WireResponse? second = await client.ReadResponseAsync();
        Assert.Equal("own:/own/second", second?.Text);
        await AssertOthersServedAsync(proxy);
    }

    [Theory]
    [InlineData("+5")]
    [InlineData("-0")]
    [InlineData("+0")]
    [InlineData("5, 5")]
    [InlineData("0x5")]
    [InlineData("5 5")]
    [InlineData("99999999999999999999")]
    public async Task A_Content_Length_that_is_not_digits_is_a_502_and_closes_the_backend_connection(string length)
    {
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, $"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\nhello");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /bad HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal(502, response?.Status);
        Assert.DoesNotContain("hello", response!.Text, StringComparison.Ordinal);
        await ScriptedBackend.WaitForAsync(() => backend.OpenConnections == 0, "the backend connection to close");
        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task A_coding_that_merely_ends_in_chunked_is_not_chunked()
    {
        // "xchunked" is an unknown coding: the body runs until the backend closes, and reaches the client as it came.
        const string Body = "5\r\nhello\r\n0\r\n\r\n";
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n" + Body);
            return false;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /x HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal(200, response?.Status);
        Assert.Equal(Body, response!.Text);
        Assert.StartsWith("xchunked", response.Header("Transfer-Encoding"), StringComparison.OrdinalIgnoreCase);
        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task Codings_other_than_chunked_reach_the_client()
    {
        byte[] gzipped = [0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03];
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n7\r\n");
            await stream.WriteAsync(gzipped);
            await ScriptedBackend.WriteAsync(stream, "\r\n0\r\n\r\n");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /gz HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal(200, response?.Status);
        Assert.StartsWith("gzip", response!.Header("Transfer-Encoding"), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(gzipped, response.Body);
        await AssertOthersServedAsync(proxy);
    }

    [Theory]
    [InlineData("chunked, gzip")]
    [InlineData("chunked, chunked")]
    [InlineData("chunked;q=1")]
    public async Task Chunked_anywhere_but_last_and_once_is_a_502(string codings)
    {
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, $"HTTP/1.1 200 OK\r\nTransfer-Encoding: {codings}\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /bad HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal(502, response?.Status);
        await AssertOthersServedAsync(proxy);
    }

    [Theory]
    [InlineData("X(y): 1")]
    [InlineData("X-A: a\u0001b")]
    [InlineData("X\u007fY: 1")]
    [InlineData("X[Y]: 1")]
    public async Task A_response_header_that_is_not_a_token_or_has_a_control_byte_is_a_502(string line)
    {
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, $"HTTP/1.1 200 OK\r\n{line}\r\nContent-Length: 2\r\n\r\nok");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /bad HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal(502, response?.Status);
        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task An_HTTP_1_0_response_with_a_coding_closes_its_connection()
    {
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /old HTTP/1.1\r\nHost: proxy\r\n\r\n");
        if (Path == ProxyPath.HttpClient)
        {
            // HttpClient keeps such a connection (the body was read whole), so the response is refused there instead.
            Assert.Equal(502, response?.Status);
            await AssertOthersServedAsync(proxy, clients: 1);
            return;
        }

        Assert.Equal("hello", response?.Text);
        await AssertOthersServedAsync(proxy, clients: 1);
        Assert.NotEqual(backend.Requests[0].Connection, backend.Requests[1].Connection);
    }

    [Fact]
    public async Task A_control_character_in_a_chunk_extension_is_a_502()
    {
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\rb\r\nhello\r\n0\r\n\r\n");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);
        if (Path == ProxyPath.HttpClient)
        {
            return; // HttpClient's chunk parser decides there
        }

        Assert.Equal(502, (await RawConnection.ExchangeAsync(proxy.Port, "GET /ext HTTP/1.1\r\nHost: proxy\r\n\r\n"))?.Status);
        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task The_identity_coding_is_not_relayed()
    {
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nuntil close");
            return false;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /identity HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal("until close", response?.Text);
        Assert.DoesNotContain("identity", response!.Header("Transfer-Encoding") ?? "", StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_value_with_bytes_above_0x7F_passes_as_it_came_on_every_path()
    {
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 200 OK\r\nX-Name: caf\u00e9\r\nContent-Length: 2\r\n\r\nok");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /latin HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal(200, response?.Status);
        Assert.Equal("caf\u00e9", response!.Header("X-Name"));
        await AssertOthersServedAsync(proxy);
    }

    [Theory]
    [InlineData("zz\r\nhello\r\n0\r\n\r\n")]
    [InlineData("-5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\nhello\r\n0\r\n\r\n")]
    public async Task A_bad_first_chunk_size_is_a_502_not_a_cut_connection(string body)
    {
        if (Path == ProxyPath.HttpClient && body.StartsWith("5\n", StringComparison.Ordinal))
        {
            // HttpClient's chunk parser takes a bare LF; Kestrel re-frames what it decoded, so the client still gets a
            // well-framed response (the other paths parse chunks themselves and refuse it).
            return;
        }

        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body);
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync("GET /bad HTTP/1.1\r\nHost: proxy\r\n\r\n");
        WireResponse? response = await client.ReadResponseAsync();
        Assert.Equal(502, response?.Status);
        await ScriptedBackend.WaitForAsync(() => backend.OpenConnections == 0, "the backend connection to close");

        // The client's connection carries on.
        await client.SendAsync("GET /own/after HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal("own:/own/after", (await client.ReadResponseAsync())?.Text);
        await AssertOthersServedAsync(proxy);
    }

    [Fact]
    public async Task A_response_whose_body_breaks_off_after_it_started_cuts_the_client_connection()
    {
        await using ScriptedBackend backend = Backend(async (stream, _) =>
        {
            await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
            await Task.Delay(50, Ct);
            await ScriptedBackend.WriteAsync(stream, "zz\r\n");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
        await client.SendAsync("GET /broken HTTP/1.1\r\nHost: proxy\r\n\r\n");
        (byte[] bytes, bool closed) = await client.ReadToEndAsync(TimeSpan.FromSeconds(5));
        Assert.True(closed, "the client connection is cut");
        Assert.DoesNotContain("0\r\n\r\n", Encoding.Latin1.GetString(bytes), StringComparison.Ordinal);
        await AssertOthersServedAsync(proxy);
    }
}

public sealed class ResponseFramingOnEventLoopTests : ResponseFramingTests
{
    protected override ProxyPath Path => ProxyPath.EventLoop;
}

public sealed class ResponseFramingOnSocketTransportTests : ResponseFramingTests
{
    protected override ProxyPath Path => ProxyPath.SocketTransport;
}

public sealed class ResponseFramingOnKestrelTests : ResponseFramingTests
{
    protected override ProxyPath Path => ProxyPath.Kestrel;
}

public sealed class ResponseFramingOnHttpClientTests : ResponseFramingTests
{
    protected override ProxyPath Path => ProxyPath.HttpClient;
}
