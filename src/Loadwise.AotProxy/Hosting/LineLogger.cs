using System.Globalization;
using System.Text;
using Loadwise.AotProxy.Logging;

namespace Loadwise.AotProxy.Hosting;

/// <summary>
/// The proxy's log output: one line per entry, <c>2026-11-22T15:04:05.123Z warn: Loadwise.Proxy[5] message</c>
/// (Microsoft.Extensions.Logging.Console's single-line format, with an exception folded onto the same line).
/// A request thread only formats the line and queues it on a <see cref="LineWriter"/>: when its queue is full (a
/// stalled terminal or pipe), entries are dropped rather than blocking requests, and a line reports how many once it
/// catches up. Disposing writes out what is queued. It replaces the console logger package, whose formatters and
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

    private readonly LineWriter _writer;
    private readonly Func<DateTimeOffset> _clock;

    /// <summary>Creates a provider that writes UTF-8 lines to <paramref name="output"/> (not closed on dispose).</summary>
    public LineLoggerProvider(Stream output, int capacity = DefaultCapacity, Func<DateTimeOffset>? clock = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        _clock = clock ?? (static () => DateTimeOffset.UtcNow);
        _writer = new LineWriter(
            LineWriter.Keep(output),
            capacity,
            dropped => Format(_clock(), LogLevel.Warning, "Loadwise.Logging", 0, $"{dropped} log entries dropped: the output could not keep up", null),
            "loadwise log writer");
    }

    /// <summary>Gets how many entries were dropped because the queue was full and not yet reported.</summary>
    public long Dropped => _writer.Dropped;

    public ILogger CreateLogger(string categoryName) => new LineLogger(this, categoryName);

    public void Dispose() => _writer.Dispose();

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
            provider._writer.TryWrite(Format(provider._clock(), logLevel, category, eventId.Id, formatter(state, exception), exception));
        }
    }
}
