using System.Collections.Concurrent;
using System.Diagnostics;

namespace Loadwise.Redis.Tests;

public sealed class SharedRateLimitTests(RedisServer server) : IClassFixture<RedisServer>
{
    private async Task<(RedisStateConnection[] Connections, SharedRateLimit<string>[] Limits)> StartAsync(string prefix, int instances, SharedRateLimitOptions options)
    {
        var connections = new RedisStateConnection[instances];
        var limits = new SharedRateLimit<string>[instances];
        for (int i = 0; i < instances; i++)
        {
            connections[i] = RedisStateConnection.Connect(new RedisStateOptions
            {
                Configuration = server.Configuration,
                KeyPrefix = prefix,
                InstanceId = $"i{i}",
                OperationTimeout = TimeSpan.FromMilliseconds(250),
                RetryInterval = TimeSpan.FromMilliseconds(100),
            });
            limits[i] = new SharedRateLimit<string>(connections[i], options);
        }

        // Every instance has announced itself before the load starts.
        await Eventually.HoldsAsync(() => limits.All(l => l.Instances == instances), TimeSpan.FromSeconds(5), "every instance counts the fleet");
        return (connections, limits);
    }

    private static async Task StopAsync(RedisStateConnection[] connections, SharedRateLimit<string>[] limits)
    {
        foreach (SharedRateLimit<string> limit in limits)
        {
            await limit.DisposeAsync();
        }

        foreach (RedisStateConnection connection in connections)
        {
            await connection.DisposeAsync();
        }
    }

    [Fact]
    public async Task Four_instances_hammering_one_key_never_admit_more_than_the_limit_in_any_window()
    {
        var options = new SharedRateLimitOptions { Name = "hammer", PermitsPerWindow = 200, SyncInterval = TimeSpan.FromMilliseconds(50) };
        (RedisStateConnection[] connections, SharedRateLimit<string>[] limits) = await StartAsync("rl4:", 4, options);
        ConcurrentDictionary<long, int> admitted = Hammer(limits, TimeSpan.FromSeconds(3.5));
        await StopAsync(connections, limits);

        TestContext.Current.TestOutputHelper?.WriteLine(string.Join(", ", admitted.OrderBy(w => w.Key).Select(w => $"{w.Key % 100}: {w.Value}")));
        // Without sharing, four instances would admit 4 x 200 per window. The documented bound: the limit, plus each
        // instance's provisional share (200 / 4 / 20 syncs per window = 3) when its first reservation of a window lands
        // after the others spent it (a starved sync loop on a loaded machine).
        Assert.All(admitted, window => Assert.True(window.Value <= 200 + (4 * 3), $"window {window.Key} admitted {window.Value}"));
        // Not only refusals: the full windows in the middle come close to the limit.
        int[] full = [.. admitted.OrderBy(w => w.Key).Skip(1).SkipLast(1).Select(w => w.Value)];
        Assert.True(full.Length >= 2, $"only {full.Length} full windows");
        Assert.All(full, count => Assert.True(count >= 180, $"a full window admitted only {count}"));
    }

    [Fact]
    public async Task A_key_that_one_instance_serves_reaches_nearly_the_whole_limit()
    {
        var options = new SharedRateLimitOptions { Name = "single", PermitsPerWindow = 200, SyncInterval = TimeSpan.FromMilliseconds(50) };
        (RedisStateConnection[] connections, SharedRateLimit<string>[] limits) = await StartAsync("rl1:", 4, options);
        ConcurrentDictionary<long, int> admitted = Hammer(limits[..1], TimeSpan.FromSeconds(3.5));
        await StopAsync(connections, limits);

        TestContext.Current.TestOutputHelper?.WriteLine(string.Join(", ", admitted.OrderBy(w => w.Key).Select(w => $"{w.Key % 100}: {w.Value}")));
        // Its share starts at a quarter and grows by a quarter of what is left at every sync (20 per window).
        int[] full = [.. admitted.OrderBy(w => w.Key).Skip(1).SkipLast(1).Select(w => w.Value)];
        Assert.All(admitted, window => Assert.True(window.Value <= 200 + 3, $"window {window.Key} admitted {window.Value}"));
        Assert.All(full, count => Assert.True(count >= 160, $"a full window admitted only {count}"));
    }

    [Fact]
    public async Task A_paused_Redis_never_slows_an_acquire_and_each_instance_keeps_its_share()
    {
        var options = new SharedRateLimitOptions { Name = "paused", PermitsPerWindow = 100, SyncInterval = TimeSpan.FromMilliseconds(50) };
        (RedisStateConnection[] connections, SharedRateLimit<string>[] limits) = await StartAsync("rlp:", 2, options);
        server.Pause();
        try
        {
            // Let the syncs time out (250 ms) and Redis count as out, then run two whole windows.
            await Task.Delay(500, TestContext.Current.CancellationToken);
            ConcurrentDictionary<long, int> admitted = Hammer(limits, TimeSpan.FromSeconds(2.5), out TimeSpan slowest);

            TestContext.Current.TestOutputHelper?.WriteLine($"slowest acquire {slowest.TotalMilliseconds:0.000} ms; " + string.Join(", ", admitted.OrderBy(w => w.Key).Select(w => $"{w.Key % 100}: {w.Value}")));
            Assert.True(slowest < TimeSpan.FromMilliseconds(100), $"an acquire took {slowest.TotalMilliseconds} ms while Redis was paused");
            // Each instance admits half of the limit per window (the share it last knew): the fleet stays at the limit.
            int[] full = [.. admitted.OrderBy(w => w.Key).Skip(1).SkipLast(1).Select(w => w.Value)];
            Assert.NotEmpty(full);
            Assert.All(full, count => Assert.InRange(count, 96, 104));
            Assert.False(connections[0].IsAvailable);
        }
        finally
        {
            server.Resume();
        }

        await Eventually.HoldsAsync(() => connections.All(c => c.IsAvailable), TimeSpan.FromSeconds(5), "both see Redis again");
        await StopAsync(connections, limits);
    }

    [Fact]
    public async Task Keys_unused_for_a_whole_window_are_forgotten()
    {
        var options = new SharedRateLimitOptions { Name = "evict", PermitsPerWindow = 10, Window = TimeSpan.FromMilliseconds(200), SyncInterval = TimeSpan.FromMilliseconds(20) };
        (RedisStateConnection[] connections, SharedRateLimit<string>[] limits) = await StartAsync("rle:", 1, options);
        for (int i = 0; i < 1_000; i++)
        {
            limits[0].TryAcquire($"client-{i}", out _);
        }

        Assert.Equal(1_000, limits[0].TrackedKeys);
        await Eventually.HoldsAsync(() => limits[0].TrackedKeys == 0, TimeSpan.FromSeconds(3), "idle keys are dropped");
        await StopAsync(connections, limits);
    }

    [Fact]
    public void Settings_out_of_range_are_refused_with_the_setting_named()
    {
        ArgumentException e = Assert.ThrowsAny<ArgumentException>(() => new SharedRateLimitOptions { SyncInterval = TimeSpan.FromMilliseconds(500) }.Validate());
        Assert.Contains("SyncInterval", e.Message, StringComparison.Ordinal);
        e = Assert.ThrowsAny<ArgumentException>(() => new SharedRateLimitOptions { Name = "a{b}" }.Validate());
        Assert.Contains("Name", e.Message, StringComparison.Ordinal);
        e = Assert.ThrowsAny<ArgumentException>(() => new SharedRateLimitOptions { PermitsPerWindow = 0 }.Validate());
        Assert.Contains("PermitsPerWindow", e.Message, StringComparison.Ordinal);
    }

    private static ConcurrentDictionary<long, int> Hammer(SharedRateLimit<string>[] limits, TimeSpan duration) =>
        Hammer(limits, duration, out _);

    /// <summary>
    /// One thread per instance takes permits for one key as fast as it can; admissions are counted per window as the
    /// instance reads Redis's clock (the window whose count in Redis it spends). One whose call straddled a boundary could
    /// belong to either window and is left out (a few per boundary at most).
    /// </summary>
    private static ConcurrentDictionary<long, int> Hammer(SharedRateLimit<string>[] limits, TimeSpan duration, out TimeSpan slowest)
    {
        var admitted = new ConcurrentDictionary<long, int>();
        long slowestTicks = 0;
        var threads = new Thread[limits.Length];
        var end = Stopwatch.StartNew();
        for (int i = 0; i < limits.Length; i++)
        {
            SharedRateLimit<string> limit = limits[i];
            threads[i] = new Thread(() =>
            {
                while (end.Elapsed < duration)
                {
                    long before = limit.CurrentWindow;
                    long started = Stopwatch.GetTimestamp();
                    bool ok = limit.TryAcquire("client", out _);
                    long took = Stopwatch.GetTimestamp() - started;
                    long after = limit.CurrentWindow;
                    InterlockedMax(ref slowestTicks, took);
                    if (ok && after == before)
                    {
                        admitted.AddOrUpdate(before, 1, (_, n) => n + 1);
                    }

                    Thread.SpinWait(50);
                }
            });
            threads[i].Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        slowest = Stopwatch.GetElapsedTime(0, slowestTicks);
        return admitted;
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen = Volatile.Read(ref target);
        while (value > seen)
        {
            long previous = Interlocked.CompareExchange(ref target, value, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }
}
