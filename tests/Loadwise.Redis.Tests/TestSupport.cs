using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Loadwise.Redis.Tests;

/// <summary>Keeps every line logged, for counting outage and recovery lines.</summary>
public sealed class LineLog : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string Text)> Lines { get; } = new();

    public int Count(LogLevel level) => Lines.Count(line => line.Level == level);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            Lines.Enqueue((logLevel, formatter(state, exception)));
        }
    }
}

/// <summary>One simulated instance: its own connection, store, tracker and shared health.</summary>
public sealed class Instance : IAsyncDisposable
{
    private Instance(RedisStateConnection connection, RedisStateStore store, HealthTracker<string> tracker, LineLog log)
    {
        Connection = connection;
        Store = store;
        Tracker = tracker;
        Log = log;
    }

    public RedisStateConnection Connection { get; }

    public RedisStateStore Store { get; }

    public HealthTracker<string> Tracker { get; }

    public SharedHealth<string>? Health { get; private set; }

    public LineLog Log { get; }

    public static async Task<Instance> StartAsync(RedisServer server, string name, string prefix, int quorum = 1, string[]? nodes = null, TimeSpan? operationTimeout = null, TimeSpan? reconcile = null)
    {
        var log = new LineLog();
        var connection = RedisStateConnection.Connect(new RedisStateOptions
        {
            Configuration = server.Configuration,
            KeyPrefix = prefix,
            InstanceId = name,
            Logger = log,
            OperationTimeout = operationTimeout ?? TimeSpan.FromMilliseconds(250),
            RetryInterval = TimeSpan.FromMilliseconds(100),
        });
        var store = new RedisStateStore(connection);
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { StateStore = store, Policy = new ConsecutiveFailurePolicy(failureThreshold: 3) });
        foreach (string node in nodes ?? ["a", "b", "c"])
        {
            tracker.GetHandle(node);
        }

        var instance = new Instance(connection, store, tracker, log);
        instance.Health = await SharedHealth.StartAsync(tracker, store, new SharedHealthOptions { EjectQuorum = quorum, ReconcileInterval = reconcile ?? TimeSpan.FromMilliseconds(500) });
        return instance;
    }

    public void Eject(string node)
    {
        for (int i = 0; i < 3; i++)
        {
            Tracker.ReportFailure(node);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Health is not null)
        {
            await Health.DisposeAsync();
        }

        await Tracker.DisposeAsync();
        await Connection.DisposeAsync();
    }
}

public static class Eventually
{
    /// <summary>Polls until the condition holds; returns how long that took, or throws after the limit.</summary>
    public static async Task<TimeSpan> HoldsAsync(Func<bool> condition, TimeSpan limit, string what)
    {
        var elapsed = Stopwatch.StartNew();
        while (!condition())
        {
            if (elapsed.Elapsed > limit)
            {
                throw new TimeoutException($"{what}: not true after {limit.TotalMilliseconds} ms");
            }

            await Task.Delay(5);
        }

        return elapsed.Elapsed;
    }
}
