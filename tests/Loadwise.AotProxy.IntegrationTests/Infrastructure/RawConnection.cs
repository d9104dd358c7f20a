using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>One response as read off the wire by <see cref="RawConnection"/>.</summary>
internal sealed record WireResponse(int Status, List<KeyValuePair<string, string>> Headers, byte[] Body)
{
    /// <summary>Gets the body as Latin-1 text.</summary>
    public string Text => Encoding.Latin1.GetString(Body);

    /// <summary>Gets a header's first value, or null.</summary>
    public string? Header(string name) => Headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;

    /// <summary>Gets every value of a header.</summary>
    public string[] Values(string name) => [.. Headers.Where(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value)];
}

/// <summary>
/// A client socket that writes raw bytes and reads responses framed as a careful client would (Content-Length,
/// chunked, or until close), for requests no HttpClient would send and for checking each byte the proxy sent.
/// Every read gives up after <see cref="Limit"/>, so a test never hangs.
/// </summary>
/// <example><code>
/// using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
/// await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
/// WireResponse? response = await client.ReadResponseAsync();
/// </code></example>
internal sealed class RawConnection : IDisposable
{
    /// <summary>The longest any one connection is read from.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(15);

    private readonly Socket _socket;
    private readonly CancellationTokenSource _limit;
    private readonly WireReader _reader;

    private RawConnection(Socket socket)
    {
        _socket = socket;
        _limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        _limit.CancelAfter(Limit);
        _reader = new WireReader(socket, _limit.Token);
    }

    public static async Task<RawConnection> OpenAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), TestContext.Current.CancellationToken);
        return new RawConnection(socket);
    }

    /// <summary>Sends a request on a new connection and reads one response (null when the proxy closed without one).</summary>
    public static async Task<WireResponse?> ExchangeAsync(int port, string request, bool headRequest = false)
    {
        using RawConnection connection = await OpenAsync(port);
        await connection.SendAsync(request);
        return await connection.ReadResponseAsync(headRequest);
    }

    public async Task SendAsync(string text) => await SendAsync(Encoding.Latin1.GetBytes(text));

    public async Task SendAsync(byte[] bytes) => await _socket.SendAsync(bytes, SocketFlags.None, _limit.Token);

    /// <summary>Half-closes: no more bytes from this side (a FIN), while the response can still come.</summary>
    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>Reads one response; null when the connection ends (or the limit passes) before its head is complete.</summary>
    public async Task<WireResponse?> ReadResponseAsync(bool headRequest = false)
    {
        byte[]? headBytes;
        try
        {
            headBytes = await _reader.ReadUntilAsync("\r\n\r\n"u8.ToArray());
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return null;
        }

        if (headBytes is null)
        {
            return null;
        }

        string[] lines = Encoding.Latin1.GetString(headBytes).Split("\r\n");
        int status = int.Parse(lines[0].AsSpan(9, 3), CultureInfo.InvariantCulture);
        var headers = lines.Skip(1).Select(l => new KeyValuePair<string, string>(l[..l.IndexOf(':')], l[(l.IndexOf(':') + 1)..].Trim())).ToList();
        var response = new WireResponse(status, headers, []);
        if (headRequest || status is 204 or 304 || status < 200)
        {
            return response;
        }

        var body = new MemoryStream();
        string? te = response.Header("Transfer-Encoding");
        string? length = response.Header("Content-Length");
        if (te is not null && te.Split(',').Last().Trim().Equals("chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (true)
            {
                string sizeLine = Encoding.Latin1.GetString(await _reader.ReadUntilAsync("\r\n"u8.ToArray()) ?? throw new IOException("chunked body cut"));
                int size = int.Parse(sizeLine.Split(';')[0].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    while ((await _reader.ReadUntilAsync("\r\n"u8.ToArray()) ?? throw new IOException("trailers cut")).Length > 0)
                    {
                    }

                    break;
                }

                body.Write(await _reader.ReadExactAsync(size) ?? throw new IOException("chunk cut"));
                _ = await _reader.ReadUntilAsync("\r\n"u8.ToArray());
            }
        }
        else if (te is null && length is not null)
        {
            body.Write(await _reader.ReadExactAsync(int.Parse(length, CultureInfo.InvariantCulture)) ?? throw new IOException("body cut"));
        }
        else
        {
            // Delimited by close.
            body.Write((await _reader.ReadToEndAsync(Limit)).Bytes);
        }

        return response with { Body = body.ToArray() };
    }

    /// <summary>Reads up to and without <paramref name="delimiter"/>; null when the connection ends first.</summary>
    public Task<byte[]?> ReadUntilAsync(string delimiter) => _reader.ReadUntilAsync(Encoding.Latin1.GetBytes(delimiter));

    /// <summary>Closes abortively: a reset, as a client that crashed or gave up sends.</summary>
    public void Reset()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Close();
    }

    /// <summary>Reads until the proxy closes the connection or <paramref name="timeout"/> passes: the bytes, and whether it closed.</summary>
    public Task<(byte[] Bytes, bool Closed)> ReadToEndAsync(TimeSpan timeout) => _reader.ReadToEndAsync(timeout);

    public void Dispose()
    {
        _socket.Dispose();
        _limit.Dispose();
    }
}
