using System.Buffers;
using System.Text;

namespace Loadwise.AotProxy.Logging;

/// <summary>
/// Writes text lines from any thread without ever blocking it: a caller copies its line (UTF-8) into a shared chunk
/// under a short lock; one background thread takes the chunks, writes them and flushes once per batch. When too many
/// lines wait (a stalled terminal, pipe or disk) new ones are dropped and counted, never waited for. A file output can
/// be reopened (logrotate's rename then <c>SIGUSR1</c>). Disposing writes out what is queued, waiting a bounded time.
/// </summary>
/// <example><code>
/// using var writer = new LineWriter(LineWriter.OpenFile("/var/log/loadwise/access.log"), capacity: 16_384,
///     droppedNotice: dropped => $"{dropped} lines dropped", "access log");
/// writer.TryWrite("GET / 200"u8);
/// </code></example>
internal sealed class LineWriter : IDisposable
{
    private static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(5);

    /// <summary>
    /// After the first line of a batch the writer waits this long before taking the batch, so that under load lines go
    /// out together: a wake-up, a write and a flush per line cost a busy proxy more than the lines themselves. A line
    /// is at most this late.
    /// </summary>
    private const int BatchWindowMs = 5;

    /// <summary>A batch this large already amortises its write; the writer takes it without waiting.</summary>
    private const int LargeBatch = 256;

    /// <summary>Lines are copied into chunks this large (a longer line gets a chunk of its own).</summary>
    private const int ChunkBytes = 64 * 1024;

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    // Everything below up to _writerWaiting is guarded by _gate.
    private readonly object _gate = new();
    private readonly int _capacity;
    private List<(byte[] Buffer, int Length)> _full = [];
    private byte[] _chunk;
    private int _chunkLength;
    private int _pendingLines;
    private int _writingLines; // taken by the writer and not yet written: they still hold memory
    private bool _completed;
    private bool _writerWaiting;

    private readonly Func<Stream> _open;
    private readonly Func<long, string?>? _droppedNotice;
    private readonly Thread _thread;
    private Stream? _output;
    private long _dropped;
    private long _droppedTotal;
    private int _reopen;

    /// <summary>
    /// Creates a writer over the stream <paramref name="open"/> returns (called again by <see cref="Reopen"/>) that
    /// keeps at most <paramref name="capacity"/> lines waiting; <paramref name="droppedNotice"/> makes the line that
    /// reports drops once the writer catches up (null: none).
    /// </summary>
    public LineWriter(Func<Stream> open, int capacity, Func<long, string?>? droppedNotice, string threadName)
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _open = open;
        _droppedNotice = droppedNotice;
        _capacity = capacity;
        _output = open();
        _chunk = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        _thread = new Thread(WriteLines) { IsBackground = true, Name = threadName };
        _thread.Start();
    }

    /// <summary>Gets how many lines were dropped since the last notice.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Gets how many lines were dropped since the start.</summary>
    public long DroppedTotal => Interlocked.Read(ref _droppedTotal);

    /// <summary>Opens <paramref name="path"/> for appending, shared so that logrotate and readers can work on it.</summary>
    public static Func<Stream> OpenFile(string path) =>
        () => new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);

    /// <summary>Wraps a stream the writer does not own (stdout): never closed, and reopening keeps it.</summary>
    public static Func<Stream> Keep(Stream stream) => () => new UnclosedStream(stream);

    /// <summary>Queues one line (without its line end); false when it was dropped.</summary>
    public bool TryWrite(string line)
    {
        int most = Utf8.GetMaxByteCount(line.Length);
        byte[]? rented = most > 1024 ? ArrayPool<byte>.Shared.Rent(most) : null;
        Span<byte> bytes = rented ?? stackalloc byte[1024];
        bool written = TryWrite(bytes[..Utf8.GetBytes(line, bytes)]);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return written;
    }

    /// <summary>Queues one line of UTF-8 (without its line end), copying it; false when it was dropped.</summary>
    public bool TryWrite(ReadOnlySpan<byte> line)
    {
        int need = line.Length + 1;
        lock (_gate)
        {
            if (!_completed && _pendingLines + _writingLines < _capacity)
            {
                if (_chunk.Length - _chunkLength < need)
                {
                    NextChunk(need);
                }

                line.CopyTo(_chunk.AsSpan(_chunkLength));
                _chunk[_chunkLength + line.Length] = (byte)'\n';
                _chunkLength += need;
                _pendingLines++;
                if (_writerWaiting)
                {
                    // Once per batch: the writer sleeps until the first line of the next one.
                    _writerWaiting = false;
                    Monitor.Pulse(_gate);
                }

                return true;
            }
        }

        Interlocked.Increment(ref _dropped);
        Interlocked.Increment(ref _droppedTotal);
        return false;
    }

    /// <summary>Closes and reopens the output before the next batch (after logrotate renamed the file).</summary>
    public void Reopen() => Volatile.Write(ref _reopen, 1);

    public void Dispose()
    {
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            Monitor.Pulse(_gate);
        }

        // Bounded: a stalled output must not hold up the process's exit for ever.
        if (_thread.Join(DisposeWait))
        {
            try
            {
                _output?.Dispose();
            }
            catch (IOException)
            {
                // The output is gone; nothing left to flush to.
            }
        }
    }

    /// <summary>Moves the current chunk to the full ones and starts one with room for <paramref name="need"/> bytes.</summary>
    private void NextChunk(int need)
    {
        if (_chunkLength > 0)
        {
            _full.Add((_chunk, _chunkLength));
        }
        else
        {
            ArrayPool<byte>.Shared.Return(_chunk);
        }

        _chunk = ArrayPool<byte>.Shared.Rent(Math.Max(ChunkBytes, need));
        _chunkLength = 0;
    }

    private void WriteLines()
    {
        var batch = new List<(byte[] Buffer, int Length)>();
        while (true)
        {
            int waiting;
            lock (_gate)
            {
                while (_pendingLines == 0 && !_completed)
                {
                    _writerWaiting = true;
                    Monitor.Wait(_gate);
                }

                if (_pendingLines == 0)
                {
                    return;
                }

                waiting = _pendingLines;
            }

            if (waiting < LargeBatch && !Volatile.Read(ref _completed))
            {
                Thread.Sleep(BatchWindowMs);
            }

            int lines;
            lock (_gate)
            {
                (batch, _full) = (_full, batch);
                if (_chunkLength > 0)
                {
                    batch.Add((_chunk, _chunkLength));
                    _chunk = ArrayPool<byte>.Shared.Rent(ChunkBytes);
                    _chunkLength = 0;
                }

                lines = _pendingLines;
                _pendingLines = 0;
                _writingLines = lines;
            }

            Write(batch, lines);
            lock (_gate)
            {
                _writingLines = 0;
            }

            foreach ((byte[] buffer, _) in batch)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            batch.Clear();
        }
    }

    /// <summary>Writes one batch and flushes; a failed output loses the batch (counted) and is opened afresh next time.</summary>
    private void Write(List<(byte[] Buffer, int Length)> batch, int lines)
    {
        try
        {
            if (Interlocked.Exchange(ref _reopen, 0) == 1 || _output is null)
            {
                _output?.Dispose();
                _output = null;
                _output = _open();
            }

            foreach ((byte[] buffer, int length) in batch)
            {
                _output.Write(buffer, 0, length);
            }

            long dropped = Interlocked.Exchange(ref _dropped, 0);
            if (dropped > 0 && _droppedNotice?.Invoke(dropped) is { } notice)
            {
                _output.Write(Utf8.GetBytes(notice + "\n"));
            }

            _output.Flush();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException or NotSupportedException or ArgumentException)
        {
            // A full disk, a closed pipe, a rotated file this process may not open: the batch is lost and counted,
            // and the next batch tries a fresh open (as does the next SIGUSR1). The process carries on.
            Interlocked.Add(ref _droppedTotal, lines);
            try
            {
                _output?.Dispose();
            }
            catch (Exception disposeError) when (disposeError is IOException or ObjectDisposedException)
            {
            }

            _output = null;
        }
    }

    /// <summary>A stream whose disposal leaves the inner stream open (stdout outlives every writer).</summary>
    private sealed class UnclosedStream(Stream inner) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);
    }
}
