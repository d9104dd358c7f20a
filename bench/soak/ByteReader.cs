using System.Net.Sockets;

namespace Loadwise.Soak;

/// <summary>The peer closed the connection before a whole message arrived.</summary>
internal sealed class EndOfStreamBeforeMessageException(string message, bool midMessage) : IOException(message)
{
    /// <summary>Gets whether some of the message had arrived (false: the connection closed between messages).</summary>
    public bool MidMessage { get; } = midMessage;
}

/// <summary>The peer sent bytes that are not HTTP/1.1.</summary>
internal sealed class ProtocolViolationException(string message) : IOException(message);

/// <summary>
/// A buffered reader of HTTP/1.1 messages on a socket, strict enough to notice what a lenient client would hide:
/// bytes left over after a message, and messages that break the grammar.
/// </summary>
internal sealed class ByteReader(Socket socket)
{
    private byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;

    /// <summary>Gets the bytes received and not yet consumed.</summary>
    public int Buffered => _end - _start;

    /// <summary>Gets whether more bytes are waiting, here or in the kernel.</summary>
    public bool HasPendingBytes => Buffered > 0 || socket.Available > 0;

    /// <summary>Gets the time the last read completed (Stopwatch ticks).</summary>
    public long LastReadTimestamp { get; private set; }

    public ReadOnlySpan<byte> Pending => _buffer.AsSpan(_start, _end - _start);

    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0 && _start == _end)
        {
            _start = _end = 0;
        }

        if (_end == _buffer.Length)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            else
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
        }

        int read = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        LastReadTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        _end += read;
        return read > 0;
    }

    /// <summary>Reads a message head up to and including the empty line, as Latin-1 text without the final CRLFCRLF; null on a clean close before any byte.</summary>
    public async ValueTask<string?> ReadHeadAsync(int maxBytes, CancellationToken cancellationToken)
    {
        int scanned = 0;
        while (true)
        {
            int at = Pending[scanned..].IndexOf("\r\n\r\n"u8);
            if (at >= 0)
            {
                int length = scanned + at;
                string head = Protocol.Latin1(_buffer.AsSpan(_start, length));
                _start += length + 4;
                return head;
            }

            scanned = Math.Max(0, Buffered - 3);
            if (Buffered > maxBytes)
            {
                throw new ProtocolViolationException($"head longer than {maxBytes} bytes");
            }

            bool any = Buffered > 0;
            if (!await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!any)
                {
                    return null;
                }

                throw new EndOfStreamBeforeMessageException("closed inside a message head", midMessage: true);
            }
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes, handing each piece to <paramref name="sink"/>.</summary>
    public async ValueTask ReadExactAsync(long count, Action<ReadOnlySpan<byte>> sink, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            if (Buffered == 0 && !await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new EndOfStreamBeforeMessageException($"closed with {count} body bytes missing", midMessage: true);
            }

            int take = (int)Math.Min(count, Buffered);
            sink(_buffer.AsSpan(_start, take));
            _start += take;
            count -= take;
        }
    }

    /// <summary>Reads everything until the peer closes.</summary>
    public async ValueTask ReadToEndAsync(Action<ReadOnlySpan<byte>> sink, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (Buffered > 0)
            {
                sink(Pending);
                _start = _end;
            }

            if (!await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>Reads a line ending in CRLF (without it), at most <paramref name="maxBytes"/> long.</summary>
    public async ValueTask<string> ReadLineAsync(int maxBytes, CancellationToken cancellationToken)
    {
        int scanned = 0;
        while (true)
        {
            int at = Pending[scanned..].IndexOf("\r\n"u8);
            if (at >= 0)
            {
                int length = scanned + at;
                string line = Protocol.Latin1(_buffer.AsSpan(_start, length));
                _start += length + 2;
                return line;
            }

            scanned = Math.Max(0, Buffered - 1);
            if (Buffered > maxBytes)
            {
                throw new ProtocolViolationException($"line longer than {maxBytes} bytes");
            }

            if (!await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new EndOfStreamBeforeMessageException("closed inside a chunked body", midMessage: true);
            }
        }
    }

    /// <summary>Reads a chunked body (RFC 9112 section 7.1) strictly, trailers included.</summary>
    public async ValueTask ReadChunkedAsync(Action<ReadOnlySpan<byte>> sink, CancellationToken cancellationToken)
    {
        while (true)
        {
            string line = await ReadLineAsync(1024, cancellationToken).ConfigureAwait(false);
            int semicolon = line.IndexOf(';', StringComparison.Ordinal);
            string digits = semicolon < 0 ? line : line[..semicolon];
            if (digits.Length is 0 or > 15 || !digits.All(char.IsAsciiHexDigit))
            {
                throw new ProtocolViolationException($"bad chunk size '{Printable(line)}'");
            }

            long size = Convert.ToInt64(digits, 16);
            if (size == 0)
            {
                while ((await ReadLineAsync(8192, cancellationToken).ConfigureAwait(false)).Length > 0)
                {
                    // Trailer fields: none are expected, none matter.
                }

                return;
            }

            await ReadExactAsync(size, sink, cancellationToken).ConfigureAwait(false);
            if ((await ReadLineAsync(2, cancellationToken).ConfigureAwait(false)).Length != 0)
            {
                throw new ProtocolViolationException("chunk data longer than its size");
            }
        }
    }

    /// <summary>Takes whatever is buffered (bytes that arrived unasked).</summary>
    public byte[] TakeBuffered()
    {
        byte[] taken = Pending.ToArray();
        _start = _end;
        return taken;
    }

    /// <summary>Reads what is waiting in the kernel without blocking, into the buffer.</summary>
    public async ValueTask DrainAvailableAsync(CancellationToken cancellationToken)
    {
        while (socket.Available > 0)
        {
            if (!await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    public static string Printable(string text)
    {
        var chars = text.Take(200).Select(c => c is >= ' ' and < (char)127 ? c : '.').ToArray();
        return new string(chars);
    }
}
