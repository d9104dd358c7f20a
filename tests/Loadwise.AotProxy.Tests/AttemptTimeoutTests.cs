using System.Diagnostics;
using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.Tests;

public sealed class AttemptTimeoutTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(300);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_attempt_that_runs_past_the_timeout_is_cancelled_about_then()
    {
        using var timeout = new AttemptTimeout(CancellationToken.None, Timeout);
        var clock = Stopwatch.StartNew();

        CancellationToken token = timeout.Begin(ProxyClock.NowMilliseconds);
        await WaitCancelledAsync(token, TimeSpan.FromSeconds(10));
        TimeSpan elapsed = clock.Elapsed;
        timeout.End();

        // Not before its deadline (less the coarse clock's few milliseconds), and well before a second period.
        Assert.InRange(elapsed, Timeout - TimeSpan.FromMilliseconds(20), Timeout * 2.5);
    }

    [Fact]
    public async Task Each_attempt_is_timed_from_its_own_start_not_the_first_ones()
    {
        using var timeout = new AttemptTimeout(CancellationToken.None, Timeout);
        CancellationToken first = timeout.Begin(ProxyClock.NowMilliseconds);
        await Task.Delay(Timeout / 2, Ct);
        timeout.End();

        var clock = Stopwatch.StartNew();
        CancellationToken second = timeout.Begin(ProxyClock.NowMilliseconds);
        // Past the first attempt's deadline (the timer wakes for it), but not the second's.
        await Task.Delay(Timeout * 0.8, Ct);
        Assert.False(second.IsCancellationRequested, "the second attempt was cancelled by the first one's deadline");
        Assert.False(first.IsCancellationRequested, "an attempt that ended in time was cancelled afterwards");

        await WaitCancelledAsync(second, TimeSpan.FromSeconds(10));
        Assert.True(clock.Elapsed >= Timeout - TimeSpan.FromMilliseconds(20), $"cancelled after {clock.Elapsed.TotalMilliseconds} ms");
        timeout.End();
    }

    [Fact]
    public async Task Attempts_that_end_in_time_are_never_cancelled_and_share_one_source()
    {
        using var timeout = new AttemptTimeout(CancellationToken.None, TimeSpan.FromMilliseconds(100));
        CancellationToken first = timeout.Begin(ProxyClock.NowMilliseconds);
        timeout.End();
        var clock = Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 400)
        {
            // Many short attempts across several timer periods.
            CancellationToken token = timeout.Begin(ProxyClock.NowMilliseconds);
            Assert.Equal(first, token);
            await Task.Delay(5, Ct);
            Assert.False(token.IsCancellationRequested, $"a 5 ms attempt was cancelled at {clock.ElapsedMilliseconds} ms");
            timeout.End();
        }
    }

    [Fact]
    public async Task After_a_timeout_the_next_attempt_gets_a_fresh_token()
    {
        using var timeout = new AttemptTimeout(CancellationToken.None, TimeSpan.FromMilliseconds(50));
        CancellationToken expired = timeout.Begin(ProxyClock.NowMilliseconds);
        await WaitCancelledAsync(expired, TimeSpan.FromSeconds(10));
        timeout.End();

        CancellationToken next = timeout.Begin(ProxyClock.NowMilliseconds);

        Assert.False(next.IsCancellationRequested);
        Assert.NotEqual(expired, next);
        await WaitCancelledAsync(next, TimeSpan.FromSeconds(10));
        timeout.End();
    }

    [Fact]
    public void The_linked_token_cancels_the_running_attempt_and_its_source_is_not_reused()
    {
        using var connectionClosed = new CancellationTokenSource();
        using var timeout = new AttemptTimeout(connectionClosed.Token, TimeSpan.FromMinutes(5));
        CancellationToken token = timeout.Begin(ProxyClock.NowMilliseconds);

        connectionClosed.Cancel();

        Assert.True(token.IsCancellationRequested);
        timeout.End();
        Assert.NotEqual(token, timeout.Begin(ProxyClock.NowMilliseconds));
        timeout.End();
    }

    [Fact]
    public void A_disposed_timeout_refuses_new_attempts_and_a_zero_timeout_is_refused()
    {
        var timeout = new AttemptTimeout(CancellationToken.None, Timeout);
        timeout.Begin(ProxyClock.NowMilliseconds);
        timeout.End();
        timeout.Dispose();

        Assert.Throws<ObjectDisposedException>(() => timeout.Begin(ProxyClock.NowMilliseconds));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AttemptTimeout(CancellationToken.None, TimeSpan.Zero));
    }

    private static async Task WaitCancelledAsync(CancellationToken token, TimeSpan limit)
    {
        var fired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using CancellationTokenRegistration registration = token.Register(static state => ((TaskCompletionSource)state!).TrySetResult(), fired);
        Task winner = await Task.WhenAny(fired.Task, Task.Delay(limit, Ct));
        Assert.True(winner == fired.Task, $"not cancelled within {limit.TotalSeconds} s");
    }
}
