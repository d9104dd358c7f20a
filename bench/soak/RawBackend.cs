using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Loadwise.Soak;

/// <summary>
/// A misbehaving backend on a raw socket. <c>GET /health</c> is always a correct 200 (so the proxy keeps letting it
/// back in); every other request gets, at random, one of <see cref="Behaviours"/>. Every valid response carries the
/// request's own id. Stray bytes (after a 204, after a HEAD answer, past Content-Length, after the last chunk, a
/// second response a few ms later) carry a DIFFERENT id, so a proxy that hands them to the next client is caught.
/// </summary>
internal sealed class RawBackend : IAsyncDisposable
{
    /// <summary>
    /// The behaviours and their weights: a correct answer is drawn twice as often as each misbehaviour; HEAD requests
    /// (few) get body-after-head more often, so the run sees enough of it.
    /// </summary>
    public static readonly (string Name, int Weight, bool ForHead, bool ForOthers)[] Behaviours =
    [
        ("correct", 2, true, true),
        ("body-after-204", 1, true, true),
        ("body-after-head", 3, true, false),
        ("excess-content-length", 1, false, true),
        ("bytes-after-last-chunk", 1, false, true),
        ("delayed-second-response", 1, true, true),
        ("bad-chunk-size", 1, false, true),
        ("content-length-plus", 1, true, true),
        ("close-mid-body", 1, false, true),
        ("bad-header-name", 1, true, true),
    ];

    private static readonly string[] BadChunkSizes = ["zz", "-1", "0x10", "1 0", "fffffffffffffffffffff", "+5", string.Empty, "5\n"];

    private readonly TcpListener _listener;
    private readonly Stats _stats;
    private readonly int _seed;
    private readonly bool _sendLateStrays;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private readonly string[] _recent = new string[16];
    private readonly Task _accepting;
    private int _recentNext;
    private int _connections;

    /// <param name="stats">Where it counts what it sent.</param>
    /// <param name="seed">Seed of its random choices.</param>
    /// <param name="sendLateStrays">
    /// Whether a delayed second response is sent even when the proxy has already sent the next request on that
    /// connection. No HTTP/1.1 client can tell such a stray from the answer it waits for, so by default it is withheld
    /// (and counted): the soak then measures only deliveries the proxy could have prevented.
    /// </param>
    public RawBackend(Stats stats, int seed, bool sendLateStrays)
    {
        _stats = stats;
        _seed = seed;
        _sendLateStrays = sendLateStrays;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(512);
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                Socket socket = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
                socket.NoDelay = true;
                _open[socket] = 0;
                _ = ServeAsync(socket, new Random(_seed + Interlocked.Increment(ref _connections)));
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
    }

    private sealed record Stray(string Behaviour, string Method, string Marker, long WrittenAt);

    private async Task ServeAsync(Socket socket, Random random)
    {
        var reader = new ByteReader(socket);
        Stray? stray = null;
        CancellationToken token = _stop.Token;
        try
        {
            while (true)
            {
                string? text = await reader.ReadHeadAsync(64 * 1024, token).ConfigureAwait(false);
                if (text is null)
                {
                    return;
                }

                long arrived = reader.LastReadTimestamp;
                HttpHead head = HttpHead.Parse(text);
                string[] start = head.StartLine.Split(' ');
                string method = start[0];
                string target = start.Length > 1 ? start[1] : string.Empty;
                if (head.Get("Expect") is { } expect && expect.Equals("100-continue", StringComparison.OrdinalIgnoreCase))
                {
                    await SendAsync(socket, "HTTP/1.1 100 Continue\r\n\r\n", token).ConfigureAwait(false);
                }

                long length = 0;
                ulong sum = Protocol.FnvOffset;
                void Sink(ReadOnlySpan<byte> data)
                {
                    sum = Protocol.Fnv1a(sum, data);
                    length += data.Length;
                }

                if (head.IsChunked)
                {
                    await reader.ReadChunkedAsync(Sink, token).ConfigureAwait(false);
                }
                else if (head.ContentLength() is long contentLength)
                {
                    await reader.ReadExactAsync(contentLength, Sink, token).ConfigureAwait(false);
                }

                string id = head.Get(Protocol.RequestIdHeader) ?? string.Empty;
                if (stray is not null)
                {
                    Stats.Add(_stats.RawReusedAfterStray, stray.Behaviour);
                    if (id.Length > 0)
                    {
                        double gapMs = Stopwatch.GetElapsedTime(stray.WrittenAt, arrived).TotalMilliseconds;
                        string cause = $"{stray.Behaviour} answer to a {stray.Method} ({stray.Marker})";
                        _stats.ArrivedAfterStray[id] = stray.Marker == "request-already-sent"
                            ? new AfterStray($"on the raw backend's connection, the proxy sent this {method} before the stray of the {stray.Behaviour} answer to a {stray.Method} was written", cause, null)
                            : new AfterStray($"on the raw backend's connection, this {method} arrived {gapMs.ToString("F3", CultureInfo.InvariantCulture)} ms after the stray bytes of the {stray.Behaviour} answer to a {stray.Method} were written ({stray.Marker})", cause, gapMs);
                    }

                    stray = null;
                }

                if (target == "/health")
                {
                    await SendAsync(socket, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", token).ConfigureAwait(false);
                    continue;
                }

                bool isHead = method == "HEAD";
                string behaviour = Draw(random, isHead);
                Stats.Add(_stats.RawSent, behaviour);
                _stats.Seen(id, "raw:" + behaviour);
                string other = OtherId(id, random);
                Remember(id);
                string body = Protocol.EchoBody(Protocol.PathId(target), id, length, sum, "raw");
                stray = await RespondAsync(socket, reader, random, behaviour, method, id, other, body, token).ConfigureAwait(false);
                if (behaviour == "close-mid-body")
                {
                    return;
                }

                if (head.ConnectionClose)
                {
                    socket.Shutdown(SocketShutdown.Both);
                    return;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The proxy closed or reset the connection (it should, after a bad response), or the soak is stopping.
        }
        finally
        {
            _open.TryRemove(socket, out _);
            socket.Dispose();
        }
    }

    private async Task<Stray?> RespondAsync(Socket socket, ByteReader reader, Random random, string behaviour, string method, string id, string other, string body, CancellationToken token)
    {
        bool isHead = method == "HEAD";
        string ok = $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n{Protocol.EchoIdHeader}: {id}\r\n\r\n";
        string chunkedHead = $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n{Protocol.EchoIdHeader}: {id}\r\n\r\n";
        string extra = random.Next(2) == 0 ? StrayResponse(other, behaviour, method, id, "same-write") : $"id={other};hid={other};stray={behaviour};after={method} {id};be=raw-stray\n";
        string bodyOrNone = isHead ? string.Empty : body;
        int half = body.Length / 2;
        switch (behaviour)
        {
            case "correct":
                await SendAsync(socket, ok + bodyOrNone, token).ConfigureAwait(false);
                return null;
            case "body-after-204":
                await SendAsync(socket, $"HTTP/1.1 204 No Content\r\n{Protocol.EchoIdHeader}: {id}\r\n\r\n{extra}", token).ConfigureAwait(false);
                return new Stray(behaviour, method, "same-write", Stopwatch.GetTimestamp());
            case "body-after-head":
                await SendAsync(socket, ok + extra, token).ConfigureAwait(false);
                return new Stray(behaviour, method, "same-write", Stopwatch.GetTimestamp());
            case "excess-content-length":
                await SendAsync(socket, ok + body + extra, token).ConfigureAwait(false);
                return new Stray(behaviour, method, "same-write", Stopwatch.GetTimestamp());
            case "bytes-after-last-chunk":
                await SendAsync(socket, $"{chunkedHead}{body.Length:x}\r\n{body}\r\n0\r\n\r\n{extra}", token).ConfigureAwait(false);
                return new Stray(behaviour, method, "same-write", Stopwatch.GetTimestamp());
            case "delayed-second-response":
            {
                await SendAsync(socket, ok + bodyOrNone, token).ConfigureAwait(false);
                await Task.Delay(random.Next(1, 9), token).ConfigureAwait(false);

                // A request already waiting means the proxy reused the connection before the stray existed: no HTTP/1.1
                // client can tell the stray from that request's answer.
                string marker = reader.HasPendingBytes ? "request-already-sent" : "idle-connection";
                if (marker == "request-already-sent" && !_sendLateStrays)
                {
                    Stats.Add(_stats.Events, "delayed second response withheld: the proxy had already sent the next request on that connection");
                    return null;
                }

                await SendAsync(socket, StrayResponse(other, behaviour, method, id, marker), token).ConfigureAwait(false);
                return new Stray(behaviour, method, marker, Stopwatch.GetTimestamp());
            }

            case "bad-chunk-size":
            {
                string bad = BadChunkSizes[random.Next(BadChunkSizes.Length)];
                await SendAsync(socket, $"{chunkedHead}{half:x}\r\n{body[..half]}\r\n{bad}\r\n{body[half..]}\r\n0\r\n\r\n", token).ConfigureAwait(false);
                return new Stray(behaviour, method, "after-bad-framing", Stopwatch.GetTimestamp());
            }

            case "content-length-plus":
                await SendAsync(socket, $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: +{body.Length}\r\n{Protocol.EchoIdHeader}: {id}\r\n\r\n{bodyOrNone}", token).ConfigureAwait(false);
                return new Stray(behaviour, method, "after-bad-framing", Stopwatch.GetTimestamp());
            case "close-mid-body":
                await SendAsync(socket, ok + body[..half], token).ConfigureAwait(false);
                if (random.Next(2) == 0)
                {
                    socket.LingerState = new LingerOption(true, 0); // a reset, not a FIN
                }

                socket.Close();
                return null;
            case "bad-header-name":
                await SendAsync(socket, $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n{Protocol.EchoIdHeader}: {id}\r\nX-Bad(Name: 1\r\n\r\n{bodyOrNone}", token).ConfigureAwait(false);
                return new Stray(behaviour, method, "after-bad-framing", Stopwatch.GetTimestamp());
            default:
                throw new InvalidOperationException($"behaviour '{behaviour}' has no response");
        }
    }

    private static string StrayResponse(string other, string behaviour, string method, string after, string marker)
    {
        string body = Protocol.EchoBody(other, other, 0, Protocol.FnvOffset, "raw-stray");
        return $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n{Protocol.EchoIdHeader}: {other}\r\n{Protocol.StrayHeader}: {behaviour};after={method} {after};{marker}\r\n\r\n{body}";
    }

    private static string Draw(Random random, bool isHead)
    {
        int total = 0;
        foreach (var b in Behaviours)
        {
            total += (isHead ? b.ForHead : b.ForOthers) ? b.Weight : 0;
        }

        int pick = random.Next(total);
        foreach (var b in Behaviours)
        {
            if (!(isHead ? b.ForHead : b.ForOthers))
            {
                continue;
            }

            if (pick < b.Weight)
            {
                return b.Name;
            }

            pick -= b.Weight;
        }

        throw new InvalidOperationException("unreachable: weights cover the draw");
    }

    /// <summary>An id of another recent request (a real one: its own client would accept it), or a made-up id of this run.</summary>
    private string OtherId(string id, Random random)
    {
        lock (_recent)
        {
            for (int i = 0; i < _recent.Length; i++)
            {
                string? candidate = _recent[(_recentNext - 1 - i + 2 * _recent.Length) % _recent.Length];
                if (candidate is not null && candidate != id)
                {
                    return candidate;
                }
            }
        }

        return _stats.IdPrefix + "9" + random.NextInt64(100_000_000, 999_999_999).ToString(CultureInfo.InvariantCulture);
    }

    private void Remember(string id)
    {
        if (id.Length == 0)
        {
            return;
        }

        lock (_recent)
        {
            _recent[_recentNext] = id;
            _recentNext = (_recentNext + 1) % _recent.Length;
        }
    }

    private static async Task SendAsync(Socket socket, string text, CancellationToken token)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        int sent = 0;
        while (sent < bytes.Length)
        {
            sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None, token).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        foreach (Socket socket in _open.Keys)
        {
            socket.Dispose();
        }

        await _accepting.ConfigureAwait(false);
        _stop.Dispose();
    }
}
