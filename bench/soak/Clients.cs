using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Loadwise.Soak;

/// <summary>
/// The load: each loop sends one request at a time on its own keep-alive connection, every request with a fresh id.
/// Most loops use HttpClient; a few use a strict raw-socket client, which also sees bytes HttpClient would silently
/// drop (data after a response, or between responses).
/// </summary>
internal sealed class Clients(Stats stats, ResponseCheck check, SoakOptions options, int proxyPort)
{
    private readonly byte[] _payload = MakePayload(options.Seed);
    private long _counter;

    private static byte[] MakePayload(int seed)
    {
        byte[] payload = new byte[256 * 1024];
        new Random(seed).NextBytes(payload);
        return payload;
    }

    public Task[] Start(CancellationToken stop)
    {
        var loops = new Task[options.Clients];
        for (int i = 0; i < loops.Length; i++)
        {
            int loop = i;
            loops[i] = i < options.RawClients
                ? Task.Run(() => RawLoopAsync(loop, stop), CancellationToken.None)
                : Task.Run(() => HttpClientLoopAsync(loop, stop), CancellationToken.None);
        }

        return loops;
    }

    private (string Method, string Id, ReadOnlyMemory<byte> Body, ulong Sum) Plan(Random random)
    {
        int roll = random.Next(100);
        string method = roll < options.PostPercent ? "POST" : roll < options.PostPercent + options.HeadPercent ? "HEAD" : "GET";
        string id = Protocol.NewId(stats.Run, Interlocked.Increment(ref _counter));
        if (method != "POST")
        {
            return (method, id, ReadOnlyMemory<byte>.Empty, Protocol.FnvOffset);
        }

        int size = random.Next(0, 64 * 1024 + 1);
        var body = _payload.AsMemory(random.Next(0, _payload.Length - size + 1), size);
        return (method, id, body, Protocol.Fnv1a(Protocol.FnvOffset, body.Span));
    }

    private (string Handler, AfterStray? AfterStray) Forget(string id, string? answeredBy)
    {
        stats.Handlers.TryRemove(id, out string? handler);
        stats.ArrivedAfterStray.TryRemove(id, out AfterStray? afterStray);
        return (handler ?? answeredBy ?? "(no in-process backend: be-restart, or none)", afterStray);
    }

    private async Task HttpClientLoopAsync(int loop, CancellationToken stop)
    {
        var random = new Random(options.Seed * 1000 + loop);
        using var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            MaxConnectionsPerServer = 1,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        using var client = new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{proxyPort}"), Timeout = Timeout.InfiniteTimeSpan };
        while (!stop.IsCancellationRequested)
        {
            var (method, id, body, sum) = Plan(random);
            var exchange = new Exchange("HttpClient", method, id, body.Length, sum);
            using var request = new HttpRequestMessage(new HttpMethod(method), "/r/" + id);
            request.Headers.TryAddWithoutValidation(Protocol.RequestIdHeader, id);
            if (method == "POST")
            {
                request.Content = new ReadOnlyMemoryContent(body);
            }

            bool inBody = false;
            string outcome;
            string handlerName;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
            timeout.CancelAfter(options.RequestTimeout);
            try
            {
                using HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                inBody = true;
                byte[] bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
                var (who, afterStray) = Forget(id, Protocol.Field(Protocol.Latin1(bytes), "be"));
                handlerName = who;
                outcome = check.Check(exchange, (int)response.StatusCode, ResponseCheck.Flatten(response.Headers, response.Content.Headers), bytes, who, afterStray);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (OperationCanceledException)
            {
                outcome = inBody ? "timeout (in response body)" : "timeout (before response headers)";
                handlerName = Forget(id, null).Handler;
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                outcome = ResponseCheck.Classify(e, inBody);
                handlerName = Forget(id, null).Handler;
            }

            stats.Complete(method, outcome, handlerName);
        }
    }

    private async Task RawLoopAsync(int loop, CancellationToken stop)
    {
        var random = new Random(options.Seed * 1000 + loop);
        Socket? socket = null;
        ByteReader? reader = null;
        Exchange? previous = null;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (socket is null)
                {
                    socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    try
                    {
                        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, proxyPort), stop).ConfigureAwait(false);
                    }
                    catch (SocketException e)
                    {
                        stats.Complete("(connect)", $"connect failed: {e.SocketErrorCode}", "(none)");
                        socket.Dispose();
                        socket = null;
                        await Task.Delay(100, stop).ConfigureAwait(false);
                        continue;
                    }

                    reader = new ByteReader(socket);
                    previous = null;
                }

                if (socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0)
                {
                    // The proxy closed the idle connection (after a response that said so, or one it had to cut).
                    Stats.Add(stats.Events, "raw client found its idle connection closed by the proxy");
                    Close(ref socket);
                    continue;
                }

                if (reader!.HasPendingBytes)
                {
                    await reader.DrainAvailableAsync(stop).ConfigureAwait(false);
                    check.Unsolicited(previous, "between responses on an idle connection", reader.TakeBuffered());
                    Close(ref socket);
                    continue;
                }

                var (method, id, body, sum) = Plan(random);
                var exchange = new Exchange("raw client", method, id, body.Length, sum);
                previous = exchange;
                bool keep = await RawExchangeAsync(socket, reader, exchange, body, stop).ConfigureAwait(false);
                if (!keep)
                {
                    Close(ref socket);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            socket?.Dispose();
        }
    }

    private static void Close(ref Socket? socket)
    {
        socket?.Dispose();
        socket = null;
    }

    /// <summary>One request on a raw connection; returns whether the connection may carry another.</summary>
    private async Task<bool> RawExchangeAsync(Socket socket, ByteReader reader, Exchange exchange, ReadOnlyMemory<byte> body, CancellationToken stop)
    {
        var head = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"{exchange.Method} /r/{exchange.Id} HTTP/1.1\r\nHost: 127.0.0.1:{proxyPort}\r\n{Protocol.RequestIdHeader}: {exchange.Id}\r\n");
        if (exchange.Method == "POST")
        {
            head.Append(CultureInfo.InvariantCulture, $"Content-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\n");
        }

        head.Append("\r\n");
        bool inBody = false;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(options.RequestTimeout);
        try
        {
            await socket.SendAsync(Protocol.Ascii(head.ToString()), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            if (!body.IsEmpty)
            {
                await socket.SendAsync(body, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            }

            HttpHead response;
            int status;
            do
            {
                string? text = await reader.ReadHeadAsync(64 * 1024, timeout.Token).ConfigureAwait(false)
                    ?? throw new EndOfStreamBeforeMessageException("closed before the response", midMessage: false);
                response = HttpHead.Parse(text);
                string[] start = response.StartLine.Split(' ', 3);
                if (start.Length < 2 || start[0] != "HTTP/1.1" || start[1].Length != 3 || !int.TryParse(start[1], NumberStyles.None, CultureInfo.InvariantCulture, out status))
                {
                    throw new ProtocolViolationException($"bad status line '{ByteReader.Printable(response.StartLine)}'");
                }
            }
            while (status is >= 100 and < 200);

            inBody = true;
            var received = new MemoryStream();
            void Sink(ReadOnlySpan<byte> data) => received.Write(data);
            bool keep = !response.ConnectionClose;
            if (exchange.Method == "HEAD" || status is 204 or 304)
            {
                // No body.
            }
            else if (response.IsChunked)
            {
                if (response.Get("Content-Length") is not null)
                {
                    throw new ProtocolViolationException("both Transfer-Encoding and Content-Length");
                }

                await reader.ReadChunkedAsync(Sink, timeout.Token).ConfigureAwait(false);
            }
            else if (response.Count("Content-Length") > 1)
            {
                throw new ProtocolViolationException("Content-Length repeated");
            }
            else if (response.ContentLength() is long length)
            {
                await reader.ReadExactAsync(length, Sink, timeout.Token).ConfigureAwait(false);
            }
            else
            {
                await reader.ReadToEndAsync(Sink, timeout.Token).ConfigureAwait(false);
                keep = false;
            }

            byte[] bytes = received.ToArray();
            var (who, afterStray) = Forget(exchange.Id, Protocol.Field(Protocol.Latin1(bytes), "be"));
            string outcome = check.Check(exchange, status, response.Fields, bytes, who, afterStray);
            if (reader.Buffered > 0)
            {
                check.Unsolicited(exchange, "right after a complete response", reader.TakeBuffered());
                keep = false;
            }

            stats.Complete(exchange.Method, outcome, who);
            return keep;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException)
        {
            stats.Complete(exchange.Method, inBody ? "timeout (in response body)" : "timeout (before response headers)", Forget(exchange.Id, null).Handler);
            return false;
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            string outcome = ResponseCheck.Classify(e, inBody);
            if (e is ProtocolViolationException)
            {
                Stats.Add(stats.Anomalies, "the proxy sent a response that breaks HTTP/1.1");
                stats.Detail(stats.AnomalyDetails, $"raw client {exchange.Method} {exchange.Id}: {e.Message}");
            }

            stats.Complete(exchange.Method, outcome, Forget(exchange.Id, null).Handler);
            return false;
        }
    }
}
