using System.Collections.Concurrent;

namespace Loadwise.Tests;

/// <summary>A fake clock: time moves only when a test advances it (Microsoft.Extensions.TimeProvider.Testing is not served here).</summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private long _utcTicks = start.UtcTicks;

    public ManualTimeProvider()
        : this(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _utcTicks), TimeSpan.Zero);

    public override long GetTimestamp() => Interlocked.Read(ref _utcTicks);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _utcTicks, by.Ticks);
}

public sealed record Backend(string Id, double LoadScore = 1) : INode<string>, ILoadMetric;

/// <summary>Records every hook call, for assertions.</summary>
public sealed class RecordingMetrics : IMetricsCollector
{
    public ConcurrentQueue<string> Selections { get; } = new();

    public ConcurrentQueue<(object Node, HealthStatus From, HealthStatus To)> Changes { get; } = new();

    public ConcurrentQueue<(string Operation, string Key, Exception Error)> StoreErrors { get; } = new();

    public void OnSelected(string strategy) => Selections.Enqueue(strategy);

    public void OnHealthChanged<TId>(TId nodeId, HealthStatus from, HealthStatus to)
        where TId : notnull => Changes.Enqueue((nodeId, from, to));

    public void OnStateStoreError(string operation, string key, Exception exception) => StoreErrors.Enqueue((operation, key, exception));
}

internal static class HealthNodes
{
    public static Backend[] Make(int count)
    {
        var nodes = new Backend[count];
        for (int i = 0; i < count; i++)
        {
            nodes[i] = new Backend($"n{i}", 1 + (i % 7));
        }

        return nodes;
    }
}
