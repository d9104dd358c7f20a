using System.Collections.Concurrent;
using System.Text;

namespace Loadwise.AotProxy.Logging;

/// <summary>
/// Writes text lines from any thread without ever blocking it: a caller queues a line; one background thread writes
/// the queue out and flushes once per burst. When the queue is full (a stalled terminal, pipe or disk) lines are dropped
/// and counted, never waited for. A file output can be reopened (logrotate's rename then <c>SIGUSR1</c>). Disposing
/// writes out what is queued, waiting a bounded time.
/// </summary>
/// <example><code>
/// using var writer = new LineWriter(LineWriter.OpenFile("/var/log/loadwise/access.log"), capacity: 16_384,
///     droppedNotice: dropped => $"{dropped} lines dropped");
/// writer.TryWrite("GET / 200");
/// </code></example>
internal sealed class LineWriter : IDisposable
{
    private static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(5);

    /// <summary>
    /// After a small burst the writer waits this long before the next, so that under load lines go out in batches: a
    /// wake-up, a write and a flush per line cost a busy proxy more than the lines themselves. A line is at most this
    /// late.
    /// </summary>
    private const int BatchWindowMs = 5;

    /// <summary>A burst this large already amortises its write; the writer goes straight on.</summary>
    private const int LargeBurst = 256;
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly BlockingCollection<string> _queue;
    private readonly Func<Stream> _open;
    private readonly Func<long, string?>? _droppedNotice;
    private readonly Thread _thread;
    private TextWriter? _output;
    private long _dropped;
    private long _droppedTotal;
    private int _reopen;

    /// <summary>
    /// Creates a writer over the stream <paramref name="open"/> returns (called again by <see cref="Reopen"/>);
    /// <paramref name="droppedNotice"/> makes the line that reports drops once the writer catches up (null: none).
    /// </summary>
    public LineWriter(Func<Stream> open, int capacity, Func<long, string?>? droppedNotice, string threadName)
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _open = open;
        _droppedNotice = droppedNotice;
        _output = Writer(open());
        _queue = new BlockingCollection<string>(capacity);
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
        try
        {
            if (_queue.TryAdd(line))
            {
                return true;
            }
        }
        catch (InvalidOperationException)
        {
            // Disposed (the host is shutting down and something still writes): nothing will write it.
        }

        Interlocked.Increment(ref _dropped);
        Interlocked.Increment(ref _droppedTotal);
        return false;
    }

    /// <summary>Closes and reopens the output before the next line (after logrotate renamed the file).</summary>
    public void Reopen() => Volatile.Write(ref _reopen, 1);

    public void Dispose()
    {
        if (_queue.IsAddingCompleted)
        {
            return;
        }

        _queue.CompleteAdding();
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

    private static StreamWriter Writer(Stream stream) => new(stream, Utf8, bufferSize: 16_384);

    private void WriteLines()
    {
        while (_queue.TryTake(out string? line, Timeout.Infinite))
        {
            int burst = 1;
            try
            {
                if (Interlocked.Exchange(ref _reopen, 0) == 1 || _output is null)
                {
                    _output?.Dispose();
                    _output = null;
                    _output = Writer(_open());
                }

                _output.Write(line);
                _output.Write('\n');
                while (_queue.TryTake(out line))
                {
                    burst++;
                    _output.Write(line);
                    _output.Write('\n');
                }

                long dropped = Interlocked.Exchange(ref _dropped, 0);
                if (dropped > 0 && _droppedNotice?.Invoke(dropped) is { } notice)
                {
                    _output.Write(notice);
                    _output.Write('\n');
                }

                // Once per burst, so a burst costs one write to the terminal, pipe or file.
                _output.Flush();
                if (burst < LargeBurst && !_queue.IsAddingCompleted)
                {
                    Thread.Sleep(BatchWindowMs);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException or NotSupportedException or ArgumentException)
            {
                // A full disk, a closed pipe, a rotated file this process may not open: the burst is lost and counted,
                // and the next line tries a fresh open (as does the next SIGUSR1). The process carries on.
                Interlocked.Add(ref _droppedTotal, burst);
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
