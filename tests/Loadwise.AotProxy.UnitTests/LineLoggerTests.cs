using System.Text;
using Loadwise.AotProxy.Hosting;
using Microsoft.Extensions.Logging;

namespace Loadwise.AotProxy.UnitTests;

public sealed class LineLoggerTests
{
    private static readonly DateTimeOffset Noon = new(2026, 11, 22, 12, 0, 5, 123, TimeSpan.FromHours(2));

    [Fact]
    public void A_line_has_the_UTC_time_the_level_the_category_the_event_id_and_the_message()
    {
        string line = LineLoggerProvider.Format(Noon, LogLevel.Warning, "Loadwise.Proxy", 5, "backend app-2 health degraded -> unhealthy", null);

        Assert.Equal("2026-11-22T10:00:05.123Z warn: Loadwise.Proxy[5] backend app-2 health degraded -> unhealthy", line);
    }

    [Theory]
    [InlineData(LogLevel.Trace, "trce")]
    [InlineData(LogLevel.Debug, "dbug")]
    [InlineData(LogLevel.Information, "info")]
    [InlineData(LogLevel.Warning, "warn")]
    [InlineData(LogLevel.Error, "fail")]
    [InlineData(LogLevel.Critical, "crit")]
    public void Levels_have_the_console_loggers_short_names(LogLevel level, string name) =>
        Assert.Contains($" {name}: ", LineLoggerProvider.Format(Noon, level, "c", 0, "m", null), StringComparison.Ordinal);

    [Fact]
    public void Line_breaks_in_the_message_and_the_exception_stay_on_one_line()
    {
        var exception = new InvalidOperationException("first\nsecond");

        string line = LineLoggerProvider.Format(Noon, LogLevel.Error, "c", 1, "one\r\ntwo\rthree", exception);

        Assert.DoesNotContain('\n', line);
        Assert.DoesNotContain('\r', line);
        Assert.Contains("] one two three System.InvalidOperationException: first second", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Entries_are_written_in_order_and_flushed_on_dispose()
    {
        var output = new MemoryStream();
        using (var provider = new LineLoggerProvider(output, clock: () => Noon))
        {
            ILogger logger = provider.CreateLogger("Loadwise.Proxy");
            for (int i = 0; i < 100; i++)
            {
                logger.LogInformation(new EventId(3), "entry {Number}", i);
            }
        }

        string[] lines = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(100, lines.Length);
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal($"2026-11-22T10:00:05.123Z info: Loadwise.Proxy[3] entry {i}", lines[i]);
        }
    }

    [Fact]
    public void A_stalled_output_drops_entries_instead_of_blocking_and_reports_how_many()
    {
        var output = new GatedStream();
        var provider = new LineLoggerProvider(output, capacity: 4, clock: () => Noon);
        ILogger logger = provider.CreateLogger("c");

        // The writer takes the first entry and blocks writing it; that entry still counts against the capacity (it holds
        // memory), so three more fill the queue; the rest are dropped.
        logger.LogWarning("first");
        Assert.True(output.WriteStarted.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken), "the writer never started writing");
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 14; i++)
        {
            logger.LogWarning("entry {Number}", i);
        }

        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(5), "logging blocked on a stalled output");
        Assert.Equal(11, provider.Dropped);

        output.Release();
        provider.Dispose();
        string text = output.Text;
        Assert.Contains("] first\n", text, StringComparison.Ordinal);
        Assert.Contains("] entry 2\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("] entry 3\n", text, StringComparison.Ordinal);
        Assert.Contains("warn: Loadwise.Logging[0] 11 log entries dropped: the output could not keep up", text, StringComparison.Ordinal);
        Assert.Equal(0, provider.Dropped);
    }

    [Fact]
    public void An_entry_after_dispose_is_dropped_without_an_exception()
    {
        var provider = new LineLoggerProvider(new MemoryStream());
        ILogger logger = provider.CreateLogger("c");
        provider.Dispose();

        logger.LogWarning("too late");

        Assert.Equal(1, provider.Dropped);
    }

    [Fact]
    public void Scopes_are_not_kept()
    {
        using var provider = new LineLoggerProvider(new MemoryStream());
        Assert.Null(provider.CreateLogger("c").BeginScope("connection 1"));
    }

    /// <summary>A stream whose first write blocks until released.</summary>
    private sealed class GatedStream : MemoryStream
    {
        private readonly ManualResetEventSlim _gate = new(false);

        public ManualResetEventSlim WriteStarted { get; } = new(false);

        public string Text => Encoding.UTF8.GetString(ToArray());

        public void Release() => _gate.Set();

        public override void Write(byte[] buffer, int offset, int count)
        {
            WriteStarted.Set();
            _gate.Wait();
            base.Write(buffer, offset, count);
        }

        // MemoryStream's span overload calls back into the array one for a derived type.
        public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);
    }
}
