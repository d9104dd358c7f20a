using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;

namespace Loadwise.Bench.EventStream;

/// <summary>Buffered reads off a socket: a message head (its first line returned), then event timestamps.</summary>
internal sealed class HeadReader(Socket socket)
{
    private static readonly byte[] Data = "data: "u8.ToArray();
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    /// <summary>Reads one head up to its blank line: its first line, or null when the connection ended.</summary>
    public async Task<string?> ReadHeadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int blank = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
            if (blank >= 0)
            {
                ReadOnlySpan<byte> head = _buffer.AsSpan(_start, blank);
                int firstLine = head.IndexOf("\r\n"u8);
                string line = Encoding.ASCII.GetString(firstLine < 0 ? head : head[..firstLine]);
                _start += blank + 4;
                return line;
            }

            if (!await FillAsync(cancellationToken))
            {
                return null;
            }
        }
    }

    /// <summary>Yields the timestamp of each <c>data: &lt;timestamp&gt;\n</c> line as soon as it is complete.</summary>
    public async IAsyncEnumerable<long> ReadEventTimestampsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            while (TryTakeTimestamp(out long timestamp))
            {
                yield return timestamp;
            }

            if (!await FillAsync(cancellationToken))
            {
                yield break;
            }
        }
    }

    private bool TryTakeTimestamp(out long timestamp)
    {
        timestamp = 0;
        ReadOnlySpan<byte> pending = _buffer.AsSpan(_start, _end - _start);
        int data = pending.IndexOf(Data);
        if (data < 0)
        {
            return false;
        }

        int newline = pending[(data + Data.Length)..].IndexOf((byte)'\n');
        if (newline < 0)
        {
            return false;
        }

        timestamp = long.Parse(pending.Slice(data + Data.Length, newline), provider: System.Globalization.CultureInfo.InvariantCulture);
        _start += data + Data.Length + newline + 1;
        return true;
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            throw new IOException("a head or event longer than 64 KiB");
        }

        int read = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
        _end += read;
        return read > 0;
    }
}
