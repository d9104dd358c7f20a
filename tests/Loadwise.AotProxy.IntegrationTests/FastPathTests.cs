using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Loadwise.AotProxy.Configuration;
using Microsoft.Extensions.Time.Testing;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// The fast path end to end, over raw client sockets so that the exact bytes, pipelining and connection reuse are
/// visible: what it serves itself, how it hands a connection to Kestrel, its timeouts and drain, and that its answers
/// match the Kestrel path's.
/// </summary>
public abstract class FastPathTests
{
    /// <summary>Gets whether the proxy listens on its own event loop (else on Kestrel's socket transport).</summary>
    protected abstract bool OnEventLoop { get; }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Simple_GETs_are_served_on_the_fast_path_over_one_connection()
    {
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, NoProbes);
        Assert.NotNull(proxy.Server.Codec);

        using var client = await RawClient.ConnectAsync(proxy.Port);
        var names = new HashSet<string>();
        for (int i = 0; i < 6; i++)
        {
            await client.SendAsync("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
            RawResponse response = await client.ReadResponseAsync();
            Assert.Equal(200, response.Status);
            names.Add(response.Body.Trim());
        }

        Assert.Equal(["b1", "b2", "b3"], names.Order());
        Assert.Equal(6, proxy.Server.Codec.Served);
        Assert.Equal(0, proxy.Server.Codec.HandedOff);
    }

    [Fact]
    public async Task A_body_framed_by_its_length_stays_on_the_codec_and_a_chunked_one_goes_to_Kestrel()
    {
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, NoProbes);
        using var client = await RawClient.ConnectAsync(proxy.Port);

        await client.SendAsync("GET /status/201 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        Assert.Equal(201, (await client.ReadResponseAsync()).Status);

        await client.SendAsync("POST /sink HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello");
        RawResponse posted = await client.ReadResponseAsync();
        Assert.Equal(200, posted.Status);
        Assert.Equal("5", posted.Body);
        Assert.Equal(2, proxy.Server.Codec!.Served);

        // A coding is Kestrel's to decode: the connection is handed over, and keeps working there.
        await client.SendAsync("POST /sink HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        RawResponse chunked = await client.ReadResponseAsync();
        Assert.Equal("5", chunked.Body);
        await client.SendAsync("GET /status/202 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        Assert.Equal(202, (await client.ReadResponseAsync()).Status);

        Assert.Equal(2, proxy.Server.Codec.Served);
        Assert.Equal(1, proxy.Server.Codec.HandedOff);
    }

    [Fact]
    public async Task Pipelined_requests_are_answered_in_order()
    {
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, NoProbes);
        using var client = await RawClient.ConnectAsync(proxy.Port);

        await client.SendAsync(
            "GET /status/201 HTTP/1.1\r\nHost: localhost\r\n\r\n" +
            "HEAD /status/202 HTTP/1.1\r\nHost: localhost\r\n\r\n" +
            "GET /status/203 HTTP/1.1\r\nHost: localhost\r\n\r\n");

        Assert.Equal(201, (await client.ReadResponseAsync()).Status);
        RawResponse head = await client.ReadResponseAsync(headRequest: true);
        Assert.Equal(202, head.Status);
        Assert.Equal("", head.Body);
        Assert.Equal(203, (await client.ReadResponseAsync()).Status);
        Assert.Equal(3, proxy.Server.Codec!.Served);
    }

    [Theory]
    [InlineData("GET", "/")]
    [InlineData("GET", "/hop")]
    [InlineData("GET", "/status/204")]
    [InlineData("GET", "/status/404")]
    [InlineData("GET", "/bytes/100000")]
    [InlineData("HEAD", "/bytes/10")]
    [InlineData("GET", "/headers")]
    public async Task The_fast_path_answers_as_the_Kestrel_path_does(string method, string path)
    {
        RawResponse fast = await RoundTripAsync(fastPath: true);
        RawResponse kestrel = await RoundTripAsync(fastPath: false);

        Assert.Equal(kestrel.Status, fast.Status);
        Assert.Equal(kestrel.Body, fast.Body);
        Assert.Equal(Comparable(kestrel), Comparable(fast));

        async Task<RawResponse> RoundTripAsync(bool fastPath)
        {
            await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, options =>
            {
                NoProbes(options);
                options.Performance.FastPath = fastPath;
            }, backendCount: 1);
            using var client = await RawClient.ConnectAsync(proxy.Port);
            await client.SendAsync($"{method} {path} HTTP/1.1\r\nHost: localhost\r\nX-Custom: v\r\n\r\n");
            RawResponse response = await client.ReadResponseAsync(headRequest: method == "HEAD");
            Assert.Equal(fastPath ? 1 : 0, proxy.Server.Codec?.Served ?? 0);

            // Each run has its own backend port, which /headers shows in Host.
            return response with { Body = response.Body.Replace(new Uri(proxy.Backends[0].Url).Authority, "backend", StringComparison.Ordinal) };
        }

        // Date differs by the clock; the framing header may differ (Kestrel chooses its own for a body it re-frames).
        static string Comparable(RawResponse response) => string.Join("\n", response.Headers
            .Where(h => h.Key is not ("Date" or "Transfer-Encoding"))
            .Select(h => h.Key.ToLowerInvariant() + ": " + h.Value)
            .Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Errors_are_answered_on_the_fast_path_with_their_headers()
    {
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, options =>
        {
            NoProbes(options);
            options.Retries.Count = 0;
            options.Backends[0].Url = "http://127.0.0.1:1"; // nothing listens there
        }, backendCount: 1);
        using var client = await RawClient.ConnectAsync(proxy.Port);

        await client.SendAsync("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        RawResponse error = await client.ReadResponseAsync();
        Assert.Equal(502, error.Status);
        Assert.Equal("502 backend unreachable\n", error.Body);
        Assert.Equal("text/plain; charset=utf-8", error.Header("Content-Type"));

        await client.SendAsync("HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        RawResponse headError = await client.ReadResponseAsync(headRequest: true);
        Assert.Equal(502, headError.Status);
        Assert.Equal("24", headError.Header("Content-Length"));
        Assert.Equal("", headError.Body);
        Assert.Equal(2, proxy.Server.Codec!.Served);
    }

    [Fact]
    public async Task After_a_timed_out_attempt_the_same_connection_times_its_next_requests_afresh()
    {
        // The fast path reuses one cancellation source per connection; one that fired must not leak into the next request.
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, options =>
        {
            NoProbes(options);
            options.Timeouts.ResponseHeadersMs = 400;
        }, backendCount: 1);
        using var client = await RawClient.ConnectAsync(proxy.Port);

        await client.SendAsync("GET /delay/3000 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        Assert.Equal(504, (await client.ReadResponseAsync()).Status);
        for (int i = 0; i < 3; i++)
        {
            await client.SendAsync("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
            Assert.Equal(200, (await client.ReadResponseAsync()).Status);
        }

        // A later slow answer is timed from its own start: 300 ms after three quick requests is still in time.
        await client.SendAsync("GET /delay/300 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);
        await client.SendAsync("GET /delay/3000 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        Assert.Equal(504, (await client.ReadResponseAsync()).Status);
        Assert.Equal(6, proxy.Server.Codec!.Served);
    }

    [Fact]
    public async Task Connection_close_from_the_client_ends_the_connection_after_the_response()
    {
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, NoProbes);
        using var client = await RawClient.ConnectAsync(proxy.Port);

        await client.SendAsync("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        RawResponse response = await client.ReadResponseAsync();
        Assert.Equal(200, response.Status);
        Assert.Equal("close", response.Header("Connection"));
        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_connection_idle_across_heartbeats_serves_its_next_request_whole()
    {
        // Between requests the response buffer is parked; a heartbeat that finds the connection waiting gives it back
        // to the pool, and the next request writes into a new one.
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, NoProbes, backendCount: 1);
        using var client = await RawClient.ConnectAsync(proxy.Port);
        await client.SendAsync("GET /bytes/3000 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        RawResponse first = await client.ReadResponseAsync();

        // Kestrel's heartbeat ticks once a second; the first one that finds the connection waiting returns its buffer.
        await StrategyRoutingTests.WaitUntilAsync(() => proxy.Server.Codec!.OutputsReturned > 0, timeoutMs: 5_000);
        await client.SendAsync("GET /bytes/3000 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        RawResponse second = await client.ReadResponseAsync();

        Assert.Equal(200, first.Status);
        Assert.Equal(200, second.Status);
        Assert.Equal(3000, second.Body.Length);
        Assert.Equal(first.Body, second.Body);
        Assert.Equal(2, proxy.Server.Codec!.Served);
    }

    [Fact]
    public async Task An_idle_connection_is_closed_after_the_keep_alive_timeout()
    {
        // On a fake clock: a 60 s keep-alive timeout would never pass in real time here; the test moves time past it.
        var time = new FakeTimeProvider();
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, NoProbes, time: time);
        using var client = await RawClient.ConnectAsync(proxy.Port);
        await client.SendAsync("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);

        // The codec starts the idle clock once the response's last bytes are out, which a loaded machine may run after
        // the client read them: move time past the timeout until the proxy closes, at most three times (three minutes
        // of fake time; a proxy without the timeout never closes).
        bool closed = false;
        for (int i = 0; i < 3 && !closed; i++)
        {
            time.Advance(TimeSpan.FromSeconds(61));
            // Checked at Kestrel's next heartbeat (once a second).
            closed = await client.WaitForCloseAsync(TimeSpan.FromSeconds(3));
        }

        Assert.True(closed);
    }

    [Fact]
    public async Task A_request_head_that_stalls_is_cut_after_the_headers_timeout()
    {
        var time = new FakeTimeProvider();
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, NoProbes, time: time);
        using var client = await RawClient.ConnectAsync(proxy.Port);

        await client.SendAsync("GET / HTTP/1.1\r\nHost: local");
        await Task.Delay(100, Ct); // the partial head arrives and starts the 30 s headers timeout
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, proxy.Server.Codec!.Served);
    }

    [Fact]
    public async Task A_client_that_stops_reading_is_cut_off_by_the_minimum_response_rate()
    {
        const long Size = 400_000_000;
        var time = new FakeTimeProvider();
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, options =>
        {
            NoProbes(options);
            options.Limits.MinResponseBytesPerSecond = 10_000_000;
            options.Limits.MinResponseGraceMs = 2_000;
        }, backendCount: 1, time: time);
        using var client = await RawClient.ConnectAsync(proxy.Port);
        await client.SendAsync($"GET /bytes/{Size} HTTP/1.1\r\nHost: localhost\r\n\r\n");

        // Read nothing while the socket buffers fill and the proxy's flush waits; then move time past the deadline (the
        // grace period plus what was written at 10 MB/s), and the next heartbeat cuts the connection.
        await Task.Delay(TimeSpan.FromMilliseconds(500), Ct);
        time.Advance(TimeSpan.FromMinutes(1));
        await Task.Delay(TimeSpan.FromMilliseconds(1_500), Ct);
        long received = await client.DrainAsync(TimeSpan.FromSeconds(20));

        Assert.True(received < Size / 2, $"received {received} of {Size} bytes: the slow reader was not cut off");
        Assert.Equal(1, proxy.Server.Codec!.Served);
    }

    [Fact]
    public async Task Drain_closes_an_idle_fast_path_connection_at_once()
    {
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, options =>
        {
            NoProbes(options);
            options.Drain.TimeoutMs = 10_000;
        });
        using var client = await RawClient.ConnectAsync(proxy.Port);
        await client.SendAsync("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        Assert.Equal(200, (await client.ReadResponseAsync()).Status);

        var clock = Stopwatch.StartNew();
        Task stopping = proxy.Server.StopAsync(Ct);
        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)));
        await stopping;
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"drain took {clock.Elapsed}");
    }

    [Fact]
    public async Task A_request_head_larger_than_the_backend_connections_buffer_goes_out_whole()
    {
        // The upstream head is written into the backend connection's 16 KiB receive buffer; a bigger one outgrows it.
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, options =>
        {
            NoProbes(options);
            options.Limits.MaxRequestHeadersTotalBytes = 64 * 1024;
        }, backendCount: 1);
        using var client = await RawClient.ConnectAsync(proxy.Port);
        string[] values = [new string('a', 8000), new string('b', 8000), new string('c', 8000)];

        for (int round = 0; round < 2; round++)
        {
            // Twice on one connection: the second request reuses the backend connection whose buffer the first outgrew.
            await client.SendAsync($"GET /headers HTTP/1.1\r\nHost: localhost\r\nX-A: {values[0]}\r\nX-B: {values[1]}\r\nX-C: {values[2]}\r\n\r\n");
            RawResponse response = await client.ReadResponseAsync();

            Assert.Equal(200, response.Status);
            Dictionary<string, string> seen = RawHttp.ParseHeaderEcho(response.Body);
            Assert.Equal(values[0], seen["X-A"]);
            Assert.Equal(values[1], seen["X-B"]);
            Assert.Equal(values[2], seen["X-C"]);
        }

        Assert.Equal(2, proxy.Server.Codec!.Served);
    }

    [Fact]
    public async Task A_spoofed_X_Forwarded_For_from_an_untrusted_peer_is_replaced_on_the_fast_path()
    {
        await using TestProxy proxy = await TestProxy.StartOnAsync(OnEventLoop, NoProbes, backendCount: 1);
        using var client = await RawClient.ConnectAsync(proxy.Port);
        await client.SendAsync("GET /headers HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil\r\n\r\n");
        RawResponse response = await client.ReadResponseAsync();

        Assert.Equal(200, response.Status);
        Assert.Contains("X-Forwarded-For: 127.0.0.1", response.Body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("6.6.6.6", response.Body, StringComparison.Ordinal);
        Assert.Contains("X-Forwarded-Host: localhost", response.Body, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1, proxy.Server.Codec!.Served);
    }

    [Fact]
    public async Task The_fast_path_stays_off_when_configured_off_or_when_a_backend_needs_HttpClient()
    {
        await using (TestProxy off = await TestProxy.StartOnAsync(OnEventLoop, options => options.Performance.FastPath = false, backendCount: 1))
        {
            Assert.Null(off.Server.Codec);
        }

        // With an https backend in force the codec hands every request to Kestrel (a reload may bring plain backends
        // back, so the codec stays in place and decides per request).
        await using TestProxy https = await TestProxy.StartOnAsync(OnEventLoop, options =>
        {
            NoProbes(options);
            options.Backends.Add(new BackendOptions { Id = "tls", Url = "https://127.0.0.1:1" });
        }, backendCount: 1);
        using (HttpResponseMessage response = await https.Client.GetAsync("/", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(0, https.Server.Codec!.Served);
        Assert.True(https.Server.Codec.HandedOff >= 1);
    }

    private static void NoProbes(ProxyOptions options) => options.HealthChecks.Enabled = false;

    /// <summary>One response as read off the wire.</summary>
    private sealed record RawResponse(int Status, List<KeyValuePair<string, string>> Headers, string Body)
    {
        public string? Header(string name) => Headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;
    }

    /// <summary>A client socket that writes raw requests and reads framed responses (Content-Length or chunked).</summary>
    private sealed class RawClient : IDisposable
    {
        private readonly Socket _socket;
        private readonly byte[] _buffer = new byte[1 << 20];
        private int _start;
        private int _end;

        private RawClient(Socket socket) => _socket = socket;

        public static async Task<RawClient> ConnectAsync(int port)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), Ct);
            return new RawClient(socket);
        }

        public async Task SendAsync(string text) => await _socket.SendAsync(Encoding.Latin1.GetBytes(text), SocketFlags.None, Ct);

        public async Task<RawResponse> ReadResponseAsync(bool headRequest = false)
        {
            string head = Encoding.Latin1.GetString(await ReadUntilAsync("\r\n\r\n"u8.ToArray()));
            string[] lines = head.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            int status = int.Parse(lines[0].AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
            var headers = lines.Skip(1).Select(l => new KeyValuePair<string, string>(l[..l.IndexOf(':')], l[(l.IndexOf(':') + 1)..].Trim())).ToList();
            var response = new RawResponse(status, headers, "");
            if (headRequest || status is 204 or 304)
            {
                return response;
            }

            var body = new MemoryStream();
            if (string.Equals(response.Header("Transfer-Encoding"), "chunked", StringComparison.OrdinalIgnoreCase))
            {
                while (true)
                {
                    string sizeLine = Encoding.Latin1.GetString(await ReadUntilAsync("\r\n"u8.ToArray())).Trim();
                    int size = Convert.ToInt32(sizeLine.Split(';')[0], 16);
                    if (size == 0)
                    {
                        await ReadUntilAsync("\r\n"u8.ToArray());
                        break;
                    }

                    body.Write(await ReadExactAsync(size));
                    await ReadUntilAsync("\r\n"u8.ToArray());
                }
            }
            else
            {
                body.Write(await ReadExactAsync(int.Parse(response.Header("Content-Length") ?? "0", System.Globalization.CultureInfo.InvariantCulture)));
            }

            return response with { Body = Encoding.Latin1.GetString(body.ToArray()) };
        }

        /// <summary>Returns true when the server closes the connection (or resets it) within <paramref name="timeout"/>.</summary>
        public async Task<bool> WaitForCloseAsync(TimeSpan timeout) => (await ReadUntilCloseAsync(timeout)).Closed;

        /// <summary>Reads until the server closes the connection or <paramref name="timeout"/> passes, and returns the bytes read.</summary>
        public async Task<long> DrainAsync(TimeSpan timeout) => (await ReadUntilCloseAsync(timeout)).Bytes;

        /// <summary>Reads and counts (buffered bytes included) until the server closes or resets the connection, or the timeout passes.</summary>
        private async Task<(bool Closed, long Bytes)> ReadUntilCloseAsync(TimeSpan timeout)
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            limit.CancelAfter(timeout);
            long total = _end - _start;
            _start = _end = 0;
            try
            {
                while (true)
                {
                    int read = await _socket.ReceiveAsync(_buffer, SocketFlags.None, limit.Token);
                    if (read == 0)
                    {
                        return (true, total);
                    }

                    total += read;
                }
            }
            catch (SocketException)
            {
                return (true, total);
            }
            catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
            {
                // Still open (a keep-alive connection after a whole response).
                return (false, total);
            }
        }

        public void Dispose() => _socket.Dispose();

        private async Task<byte[]> ReadUntilAsync(byte[] delimiter)
        {
            while (true)
            {
                int found = _buffer.AsSpan(_start, _end - _start).IndexOf(delimiter);
                if (found >= 0)
                {
                    byte[] taken = _buffer.AsSpan(_start, found).ToArray();
                    _start += found + delimiter.Length;
                    return taken;
                }

                await FillAsync();
            }
        }

        private async Task<byte[]> ReadExactAsync(int count)
        {
            while (_end - _start < count)
            {
                await FillAsync();
            }

            byte[] taken = _buffer.AsSpan(_start, count).ToArray();
            _start += count;
            return taken;
        }

        private async Task FillAsync()
        {
            if (_start == _end)
            {
                _start = _end = 0;
            }

            int read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, Ct);
            if (read == 0)
            {
                throw new IOException("the proxy closed the connection");
            }

            _end += read;
        }
    }
}

/// <summary><see cref="FastPathTests"/> with the listeners on the proxy's event loop (the default).</summary>
public sealed class FastPathOnEventLoopTests : FastPathTests
{
    protected override bool OnEventLoop => true;
}

/// <summary><see cref="FastPathTests"/> with the listeners on Kestrel's socket transport.</summary>
public sealed class FastPathOnSocketTransportTests : FastPathTests
{
    protected override bool OnEventLoop => false;
}
