using BenchmarkDotNet.Attributes;
using Loadwise.AotProxy.Threading;

namespace Loadwise.Benchmarks;

/// <summary>
/// The response-headers timeout of one attempt, started and ended as the fast path does once per request: the lazy
/// per-connection timer (<see cref="AttemptTimeout"/>) against the reused source that was armed with
/// <see cref="CancellationTokenSource.CancelAfter(TimeSpan)"/> and reset with <see cref="CancellationTokenSource.TryReset"/>
/// per request before it. Both should allocate nothing.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class AttemptTimeoutBenchmarks
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _connectionClosed = new();
    private AttemptTimeout _lazy = null!;
    private CancellationTokenSource _reused = null!;
    private long _now;

    [GlobalSetup]
    public void Setup()
    {
        _lazy = new AttemptTimeout(_connectionClosed.Token, Timeout, ProxyClock.System);
        _reused = CancellationTokenSource.CreateLinkedTokenSource(_connectionClosed.Token);
        _now = ProxyClock.System.NowMilliseconds;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _lazy.Dispose();
        _reused.Dispose();
        _connectionClosed.Dispose();
    }

    /// <summary>An attempt on the lazy timer: a store of its start and an exchange at its end.</summary>
    [Benchmark]
    public bool LazyTimer()
    {
        CancellationToken token = _lazy.Begin(_now);
        _lazy.End();
        return token.CanBeCanceled;
    }

    /// <summary>The way before: arm the reused source's timer, then reset it (two timer-queue updates).</summary>
    [Benchmark(Baseline = true)]
    public bool CancelAfterAndReset()
    {
        _reused.CancelAfter(Timeout);
        CancellationToken token = _reused.Token;
        if (!_reused.TryReset())
        {
            throw new InvalidOperationException("the reused source fired during the benchmark");
        }

        return token.CanBeCanceled;
    }
}
