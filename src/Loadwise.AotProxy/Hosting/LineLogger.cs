using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Loadwise.AotProxy.Hosting;

/// <summary>
/// The proxy's log output: one line per entry, <c>2026-11-22T15:04:05.123Z warn: Loadwise.Proxy[5] message</c>
/// (Microsoft.Extensions.Logging.Console's single-line format, with an exception folded onto the same line).
/// A request thread only formats the line and queues it; one background thread writes. When the queue is full (a
/// stalled terminal or pipe), entries are dropped rather than blocking requests, and the writer reports how many once
/// it catches up. Disposing writes out what is queued. It replaces the console logger package, whose formatters and
/// options were most of the 160 KB the native binary lost with it, and whose scope support put a value in every
/// connection's execution context.
/// </summary>
/// <example><code>
/// builder.Logging.ClearProviders();
/// builder.Logging.Services.AddSingleton&lt;ILoggerProvider&gt;(_ => new LineLoggerProvider(Console.OpenStandardOutput()));
/// </code></example>
internal sealed class LineLoggerProvider : ILoggerProvider
{
    /// <summary>The most lines queued before new ones are dropped.</summary>
    public const int DefaultCapacity = 4096;

    private static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(5);

    private readonly BlockingCollection<string> _queue;
    private readonly TextWriter _output;
    private readonly Thread _writer;
    private readonly Func<DateTimeOffset> _clock;
    private long _dropped;

    /// <summary>Creates a provider that writes UTF-8 lines to <paramref name="output"/> (not closed on dispose).</summary>
    public LineLoggerProvider(Stream output, int capacity = DefaultCapacity, Func<DateTimeOffset>? clock = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _output = new StreamWriter(output, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 4096, leaveOpen: true);
        _queue = new BlockingCollection<string>(capacity);
        _clock = clock ?? (static () => DateTimeOffset.UtcNow);
        _writer = new Thread(WriteLines) { IsBackground = true, Name = "loadwise log writer" };
        _writer.Start();
    }

    /// <summary>Gets how many entries were dropped because the queue was full and not yet reported.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public ILogger CreateLogger(string categoryName) => new LineLogger(this, categoryName);

    public void Dispose()
    {
        if (_queue.IsAddingCompleted)
        {
            return;
        }

        _queue.CompleteAdding();
        // Bounded: a stalled output must not hold up the process's exit for ever.
        _writer.Join(DisposeWait);
    }

    /// <summary>Formats one entry as its line, without the line end; exceptions and line breaks stay on the line.</summary>
    internal static string Format(DateTimeOffset time, LogLevel level, string category, int eventId, string message, Exception? exception)
    {
        var line = new StringBuilder(64 + category.Length + message.Length);
        line.Append(time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))
            .Append(' ')
            .Append(LevelName(level))
            .Append(": ")
            .Append(category)
            .Append('[')
            .Append(eventId.ToString(CultureInfo.InvariantCulture))
            .Append("] ");
        AppendOneLine(line, message);
        if (exception is not null)
        {
            line.Append(' ');
            AppendOneLine(line, exception.ToString());
        }

        return line.ToString();
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };

    private static void AppendOneLine(StringBuilder line, string text)
    {
        int start = line.Length;
        line.Append(text);
        line.Replace("\r\n", " ", start, line.Length - start).Replace('\n', ' ', start, line.Length - start).Replace('\r', ' ', start, line.Length - start);
    }

    private void Enqueue(string line)
    {
        try
        {
            if (_queue.TryAdd(line))
            {
                return;
            }
        }
        catch (InvalidOperationException)
        {
            // Disposed (the host is shutting down and something still logs): nothing will write it.
        }

        // Full or disposed: never block the caller.
        Interlocked.Increment(ref _dropped);
    }

    private void WriteLines()
    {
        try
        {
            while (_queue.TryTake(out string? line, Timeout.Infinite))
            {
                _output.Write(line);
                _output.Write('\n');
                while (_queue.TryTake(out line))
                {
                    _output.Write(line);
                    _output.Write('\n');
                }

                long dropped = Interlocked.Exchange(ref _dropped, 0);
                if (dropped > 0)
                {
                    _output.Write(Format(_clock(), LogLevel.Warning, "Loadwise.Logging", 0, $"{dropped} log entries dropped: the output could not keep up", null));
                    _output.Write('\n');
                }

                // Once per burst, so a burst costs one write to the terminal or pipe.
                _output.Flush();
            }
        }
        catch (IOException)
        {
            // The output is gone (closed pipe): nothing left to write to; the queue is abandoned.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private sealed class LineLogger(LineLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            ArgumentNullException.ThrowIfNull(formatter);
            provider.Enqueue(Format(provider._clock(), logLevel, category, eventId.Id, formatter(state, exception), exception));
        }
    }
}
