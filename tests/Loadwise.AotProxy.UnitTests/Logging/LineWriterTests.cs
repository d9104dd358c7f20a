using System.Text;
using Loadwise.AotProxy.Logging;

namespace Loadwise.AotProxy.UnitTests.Logging;

/// <summary>The bounded writer behind the log and the access log: it never blocks a caller, and it reopens files.</summary>
public sealed class LineWriterTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("loadwise-linewriter-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void A_stalled_output_drops_and_counts_lines_instead_of_blocking_the_caller()
    {
        using var stalled = new StalledStream();
        var writer = new LineWriter(() => stalled, capacity: 16, droppedNotice: null, "test");
        // The writer thread takes the first line and blocks writing it; it still counts against the capacity (it holds
        // memory), so 15 more fill the queue; the rest must return at once.
        Assert.True(writer.TryWrite("first"));
        Assert.True(stalled.Entered.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        int written = 0;
        for (int i = 0; i < 1_000; i++)
        {
            written += writer.TryWrite($"line {i}") ? 1 : 0;
        }

        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(5), $"1,000 writes took {elapsed.Elapsed}");
        Assert.Equal(15, written);
        Assert.Equal(1_000 - written, writer.DroppedTotal);
        stalled.Release();
        writer.Dispose();
    }

    [Fact]
    public async Task Reopen_writes_the_next_lines_to_a_new_file_after_a_rename()
    {
        string path = Path.Combine(_folder, "access.log");
        using (var writer = new LineWriter(LineWriter.OpenFile(path), capacity: 64, droppedNotice: null, "test"))
        {
            writer.TryWrite("before");
            await WaitForAsync(() => File.Exists(path) && File.ReadAllText(path) == "before\n");
            File.Move(path, path + ".1");
            writer.Reopen();
            writer.TryWrite("after");
        }

        Assert.Equal("before\n", await File.ReadAllTextAsync(path + ".1", TestContext.Current.CancellationToken));
        Assert.Equal("after\n", await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_drop_notice_follows_once_the_writer_catches_up()
    {
        using var stalled = new StalledStream();
        var writer = new LineWriter(() => stalled, capacity: 16, dropped => $"{dropped} dropped", "test");
        writer.TryWrite("first");
        Assert.True(stalled.Entered.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        for (int i = 0; i < 100; i++)
        {
            writer.TryWrite("x");
        }

        long dropped = writer.Dropped;
        Assert.Equal(100 - 15, dropped);
        stalled.Release();
        writer.Dispose();
        await WaitForAsync(() => stalled.Text.Contains($"{dropped} dropped\n", StringComparison.Ordinal));
        Assert.Equal(0, writer.Dropped);
        Assert.Equal(dropped, writer.DroppedTotal);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (int i = 0; i < 2_000 && !condition(); i++)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.True(condition());
    }

    /// <summary>An output whose writes block until released (a stalled pipe or disk).</summary>
    private sealed class StalledStream : MemoryStream
    {
        private readonly ManualResetEventSlim _released = new();

        public ManualResetEventSlim Entered { get; } = new();
        private readonly object _gate = new();

        public string Text
        {
            get
            {
                lock (_gate)
                {
                    return Encoding.UTF8.GetString(ToArray());
                }
            }
        }

        public void Release() => _released.Set();

        public override void Write(byte[] buffer, int offset, int count)
        {
            Entered.Set();
            _released.Wait();
            lock (_gate)
            {
                base.Write(buffer, offset, count);
            }
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Entered.Set();
            _released.Wait();
            lock (_gate)
            {
                base.Write(buffer);
            }
        }

        protected override void Dispose(bool disposing)
        {
            _released.Set();
            base.Dispose(disposing);
        }
    }
}
