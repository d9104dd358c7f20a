using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>The direct HTTP/1.1 upstream path end to end, against a raw socket backend that answers exactly what a test says.</summary>
public sealed class DirectHttp1ForwardingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_chunked_body_split_across_packets_with_trailers_arrives_whole_and_the_connection_is_reused()
    {
        await using var backend = await RawBackend.StartAsync(async (stream, _) =>
        {
            await WriteAsync(stream, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Backend: raw\r\n\r\n5\r\nhel");
            await WriteAsync(stream, "lo\r\n7;ext=1\r\n, world\r\n");
            await WriteAsync(stream, "0\r\nX-Trailer: t\r\n\r\n");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("hello, world", await response.Content.ReadAsStringAsync(Ct));
            Assert.Equal("raw", Assert.Single(response.Headers.GetValues("X-Backend")));
        }

        Assert.Equal(1, backend.Connections);
        Assert.Equal(3, backend.Requests);
    }

    [Fact]
    public async Task A_body_delimited_by_close_is_forwarded_and_the_connection_is_not_reused()
    {
        await using var backend = await RawBackend.StartAsync(async (stream, _) =>
        {
            await WriteAsync(stream, "HTTP/1.1 200 OK\r\n\r\nuntil ");
            await WriteAsync(stream, "close");
            return false;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        for (int i = 0; i < 2; i++)
        {
            using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);
            Assert.Equal("until close", await response.Content.ReadAsStringAsync(Ct));
        }

        Assert.Equal(2, backend.Connections);
    }

    [Fact]
    public async Task A_pooled_connection_the_backend_closed_is_replaced_without_an_error()
    {
        // The backend answers one request per connection but says nothing about it (no Connection: close).
        await using var backend = await RawBackend.StartAsync(async (stream, _) =>
        {
            await WriteAsync(stream, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            return false;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage response = await proxy.Client.PostAsync("/", null, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await Task.Delay(50, Ct); // let the close arrive, so the next request finds a dead pooled connection
        }

        Assert.Equal(3, backend.Requests);
    }

    [Fact]
    public async Task The_request_head_carries_the_target_host_and_forwarded_headers_but_no_hop_by_hop_ones()
    {
        string? seen = null;
        await using var backend = await RawBackend.StartAsync(async (stream, head) =>
        {
            seen = head;
            await WriteAsync(stream, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        using var request = new HttpRequestMessage(HttpMethod.Delete, "/a%20b?x=1");
        request.Headers.TryAddWithoutValidation("X-Custom", "v");
        request.Headers.TryAddWithoutValidation("Keep-Alive", "timeout=5");
        using HttpResponseMessage response = await proxy.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(seen);
        string[] lines = seen.Split("\r\n");
        Assert.Equal("DELETE /a%20b?x=1 HTTP/1.1", lines[0]);
        Assert.Contains($"Host: 127.0.0.1:{backend.Port}", lines);
        Assert.Contains("X-Custom: v", lines);
        Assert.Contains("X-Forwarded-For: 127.0.0.1", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("Keep-Alive", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(lines, l => l.StartsWith("Content-Length", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task A_repeated_equal_Content_Length_reaches_the_client_once_and_a_missing_Date_is_added()
    {
        await using var backend = await RawBackend.StartAsync(async (stream, _) =>
        {
            await WriteAsync(stream, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, response.Content.Headers.ContentLength);
        Assert.Single(response.Content.Headers.GetValues("Content-Length"));
        Assert.NotNull(response.Headers.Date);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task A_malformed_response_is_a_502_and_counts_against_the_backend()
    {
        await using var backend = await RawBackend.StartAsync(async (stream, _) =>
        {
            await WriteAsync(stream, "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n");
            return false;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);

        using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("loadwise_requests_total{backend=\"raw\",code=\"502\"} 1\n", proxy.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kept_header_lines_are_relayed_in_order_and_odd_spacing_is_normalised()
    {
        await using var backend = await RawBackend.StartAsync(async (stream, _) =>
        {
            await WriteAsync(stream, "HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B:   spaced  \r\nConnection: keep-alive, X-Hop\r\nX-Hop: h\r\n"
                + "X-C: 3\r\nX-D: 4\r\nKeep-Alive: timeout=5\r\nX-E:\r\nContent-Length: 2\r\nX-F: 6\r\n\r\nok");
            return true;
        });
        await using TestProxy proxy = await StartProxyAsync(backend);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, proxy.Port), Ct);
        await client.SendAsync("GET / HTTP/1.1\r\nHost: proxy\r\n\r\n"u8.ToArray(), SocketFlags.None, Ct);

        var received = new MemoryStream();
        var buffer = new byte[4096];
        while (!Encoding.Latin1.GetString(received.ToArray()).EndsWith("\r\n\r\nok", StringComparison.Ordinal))
        {
            int read = await client.ReceiveAsync(buffer, SocketFlags.None, Ct);
            Assert.True(read > 0, "the proxy closed the connection before the whole response");
            received.Write(buffer, 0, read);
        }

        // The response as the fast path wrote it: hop-by-hop lines gone, the rest in the backend's order, each
        // "Name: value", then the framing the proxy writes itself (the length) and a Date, as the backend sent none.
        string[] lines = Encoding.Latin1.GetString(received.ToArray()).Split("\r\n");
        string[] fields = lines[1..Array.IndexOf(lines, "")].Where(l => !l.StartsWith("Date: ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["X-A: 1", "X-B: spaced", "X-C: 3", "X-D: 4", "X-E: ", "X-F: 6", "Content-Length: 2"], fields);
    }

    private static Task<TestProxy> StartProxyAsync(RawBackend backend) => TestProxy.StartAsync(options =>
    {
        options.Backends.Clear();
        options.Backends.Add(new BackendOptions { Id = "raw", Url = $"http://127.0.0.1:{backend.Port}" });
        options.HealthChecks.Enabled = false;
        options.Retries.Count = 0;
    }, backendCount: 0);

    private static Task WriteAsync(NetworkStream stream, string text) => stream.WriteAsync(Encoding.Latin1.GetBytes(text), Ct).AsTask();

    /// <summary>A loopback server that reads each request head and lets the test write the response bytes.</summary>
    private sealed class RawBackend : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly Func<NetworkStream, string, Task<bool>> _respond;
        private readonly CancellationTokenSource _stop = new();
        private Task _accepting = Task.CompletedTask;
        private int _connections;
        private int _requests;

        private RawBackend(Func<NetworkStream, string, Task<bool>> respond) => _respond = respond;

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Connections => Volatile.Read(ref _connections);

        public int Requests => Volatile.Read(ref _requests);

        /// <summary>Starts the server; <paramref name="respond"/> gets the request head and returns whether to keep the connection.</summary>
        public static Task<RawBackend> StartAsync(Func<NetworkStream, string, Task<bool>> respond)
        {
            var backend = new RawBackend(respond);
            backend._listener.Start();
            backend._accepting = backend.AcceptAsync();
            return Task.FromResult(backend);
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptSocketAsync(_stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                Interlocked.Increment(ref _connections);
                _ = ServeAsync(socket);
            }
        }

        private async Task ServeAsync(Socket socket)
        {
            using var stream = new NetworkStream(socket, ownsSocket: true);
            var buffer = new byte[16 * 1024];
            int filled = 0;
            try
            {
                while (true)
                {
                    int end;
                    while ((end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
                    {
                        int read = await stream.ReadAsync(buffer.AsMemory(filled), _stop.Token);
                        if (read == 0)
                        {
                            return;
                        }

                        filled += read;
                    }

                    string head = Encoding.Latin1.GetString(buffer, 0, end);
                    buffer.AsSpan(end + 4, filled - end - 4).CopyTo(buffer);
                    filled -= end + 4;
                    Interlocked.Increment(ref _requests);
                    if (!await _respond(stream, head))
                    {
                        return;
                    }
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
            {
                // The proxy or the test went away.
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            _stop.Dispose();
        }
    }
}
