using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>One request as a <see cref="ScriptedBackend"/> received it.</summary>
/// <param name="Head">The request head without its blank line, as sent.</param>
/// <param name="Body">The body, read by Content-Length or chunked framing (decoded), else empty.</param>
/// <param name="Connection">The backend connection's number (1 for the first accepted).</param>
/// <param name="Index">The request's number on its connection (1 for the first).</param>
internal sealed record ScriptedRequest(string Head, byte[] Body, int Connection, int Index)
{
    /// <summary>Gets the request line.</summary>
    public string RequestLine => Head.Split("\r\n")[0];

    /// <summary>Gets the request target.</summary>
    public string Target => RequestLine.Split(' ')[1];

    /// <summary>Gets the header lines.</summary>
    public string[] HeaderLines => Head.Split("\r\n")[1..];

    /// <summary>Gets a header's value (the first), or null.</summary>
    public string? Header(string name) => HeaderLines
        .Where(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))
        .Select(l => l[(name.Length + 1)..].Trim())
        .FirstOrDefault();
}

/// <summary>
/// A loopback HTTP/1.1 server whose answers a test writes byte by byte: well-formed, malformed, or followed by bytes
/// that belong to no request. It reads each request head (and its body, by Content-Length or chunked framing), records
/// it, and counts the connections open right now, so a test can see what reached the backend and whether the proxy
/// leaked a connection.
/// </summary>
/// <example><code>
/// await using var backend = ScriptedBackend.Start(async (stream, request) =>
/// {
///     await ScriptedBackend.WriteAsync(stream, "HTTP/1.1 204 No Content\r\n\r\n");
///     return true; // keep the connection for another request
/// });
/// </code></example>
internal sealed class ScriptedBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<NetworkStream, ScriptedRequest, Task<bool>> _respond;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<ScriptedRequest> _requests = new();
    private readonly ConcurrentDictionary<int, Socket> _open = new();
    private Task _accepting = Task.CompletedTask;
    private int _connections;

    private readonly bool _readBody;

    private ScriptedBackend(Func<NetworkStream, ScriptedRequest, Task<bool>> respond, bool readBody)
    {
        _respond = respond;
        _readBody = readBody;
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Gets the connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Gets the connections open right now (closed by neither side).</summary>
    public int OpenConnections => _open.Count;

    /// <summary>Gets the requests received, in order.</summary>
    public ScriptedRequest[] Requests => [.. _requests];

    /// <summary>
    /// Starts the server. <paramref name="respond"/> gets each request and writes the answer; it returns whether the
    /// backend reads another request on the connection (false closes it).
    /// </summary>
    /// <param name="respond">Writes the answer to each request; returns whether to read another on the connection.</param>
    /// <param name="readBody">Whether the body is read before <paramref name="respond"/> runs (false: it answers after the head alone).</param>
    public static ScriptedBackend Start(Func<NetworkStream, ScriptedRequest, Task<bool>> respond, bool readBody = true)
    {
        var backend = new ScriptedBackend(respond, readBody);
        backend._listener.Start(512);
        backend._accepting = backend.AcceptAsync();
        return backend;
    }

    /// <summary>A well-behaved answer that names the request's target, so each client can tell its own response.</summary>
    public static Task<bool> Own(NetworkStream stream, ScriptedRequest request) => OwnAsync(stream, request);

    /// <summary>Writes <c>200</c> with the body <c>own:{target}</c> and keeps the connection.</summary>
    public static async Task<bool> OwnAsync(NetworkStream stream, ScriptedRequest request)
    {
        string body = "own:" + request.Target;
        await WriteAsync(stream, $"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n{body}");
        return true;
    }

    /// <summary>Writes text as Latin-1 and flushes it as one send.</summary>
    public static Task WriteAsync(NetworkStream stream, string text) => stream.WriteAsync(Encoding.Latin1.GetBytes(text)).AsTask();

    /// <summary>Waits until <paramref name="condition"/> holds, or fails after <paramref name="timeoutMs"/>.</summary>
    public static async Task WaitForAsync(Func<bool> condition, string what, int timeoutMs = 5_000)
    {
        long deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            Assert.True(Environment.TickCount64 < deadline, $"timed out waiting for {what}");
            await Task.Delay(10);
        }
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
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            int number = Interlocked.Increment(ref _connections);
            _open[number] = socket;
            _ = ServeAsync(socket, number);
        }
    }

    private async Task ServeAsync(Socket socket, int number)
    {
        var reader = new WireReader(socket, _stop.Token);
        try
        {
            using var stream = new NetworkStream(socket, ownsSocket: true);
            for (int index = 1; ; index++)
            {
                byte[]? head = await reader.ReadUntilAsync("\r\n\r\n"u8.ToArray());
                if (head is null)
                {
                    return;
                }

                string text = Encoding.Latin1.GetString(head);
                byte[] body = _readBody ? await ReadBodyAsync(reader, text) : [];
                var request = new ScriptedRequest(text, body, number, index);
                _requests.Enqueue(request);
                if (!await _respond(stream, request))
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The proxy or the test went away.
        }
        finally
        {
            _open.TryRemove(number, out _);
            socket.Dispose();
        }
    }

    private static async Task<byte[]> ReadBodyAsync(WireReader reader, string head)
    {
        string? length = null;
        bool chunked = false;
        foreach (string line in head.Split("\r\n")[1..])
        {
            int colon = line.IndexOf(':');
            string name = colon > 0 ? line[..colon].Trim() : "";
            string value = colon > 0 ? line[(colon + 1)..].Trim() : "";
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                length = value;
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && value.EndsWith("chunked", StringComparison.OrdinalIgnoreCase))
            {
                chunked = true;
            }
        }

        if (chunked)
        {
            var body = new MemoryStream();
            while (true)
            {
                byte[] sizeLine = await reader.ReadUntilAsync("\r\n"u8.ToArray()) ?? throw new IOException("body cut");
                int size = int.Parse(Encoding.Latin1.GetString(sizeLine).Split(';')[0].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    while ((await reader.ReadUntilAsync("\r\n"u8.ToArray()) ?? throw new IOException("trailers cut")).Length > 0)
                    {
                    }

                    return body.ToArray();
                }

                body.Write(await reader.ReadExactAsync(size) ?? throw new IOException("chunk cut"));
                _ = await reader.ReadUntilAsync("\r\n"u8.ToArray());
            }
        }

        return length is null ? [] : await reader.ReadExactAsync(int.Parse(length, CultureInfo.InvariantCulture)) ?? throw new IOException("body cut");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        foreach (Socket socket in _open.Values)
        {
            socket.Dispose();
        }

        _stop.Dispose();
    }
}

/// <summary>Buffered reads off a socket: up to a delimiter, or an exact count; null at the end of the stream.</summary>
internal sealed class WireReader(Socket socket, CancellationToken cancellationToken)
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    /// <summary>Gets the bytes read but not yet taken.</summary>
    public ReadOnlySpan<byte> Buffered => _buffer.AsSpan(_start, _end - _start);

    public async Task<byte[]?> ReadUntilAsync(byte[] delimiter)
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

            if (!await FillAsync())
            {
                return null;
            }
        }
    }

    public async Task<byte[]?> ReadExactAsync(int count)
    {
        while (_end - _start < count)
        {
            if (!await FillAsync())
            {
                return null;
            }
        }

        byte[] taken = _buffer.AsSpan(_start, count).ToArray();
        _start += count;
        return taken;
    }

    /// <summary>Reads whatever arrives until the peer closes or <paramref name="timeout"/> passes; returns it and whether the peer closed.</summary>
    public async Task<(byte[] Bytes, bool Closed)> ReadToEndAsync(TimeSpan timeout)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var all = new MemoryStream();
        all.Write(Buffered);
        _start = _end = 0;
        try
        {
            while (true)
            {
                int read = await socket.ReceiveAsync(_buffer, SocketFlags.None, limit.Token);
                if (read == 0)
                {
                    return (all.ToArray(), true);
                }

                all.Write(_buffer, 0, read);
            }
        }
        catch (SocketException)
        {
            return (all.ToArray(), true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (all.ToArray(), false);
        }
    }

    private async Task<bool> FillAsync()
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            if (_start == 0)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
            else
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }
        }

        int read = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
        _end += read;
        return read > 0;
    }
}
