using Loadwise.AotProxy.Threading;
using Microsoft.Extensions.Time.Testing;

namespace Loadwise.AotProxy.UnitTests;

/// <summary>The per-connection response-headers timeout, on a fake clock: time moves only when a test says so.</summary>
public sealed class AttemptTimeoutTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(300);

    private readonly FakeTimeProvider _time = new();
    private readonly ProxyClock _clock;

    public AttemptTimeoutTests() => _clock = new ProxyClock(_time);

    [Fact]
    public void An_attempt_that_runs_past_the_timeout_is_cancelled_then_and_not_before()
    {
        using var timeout = new AttemptTimeout(CancellationToken.None, Timeout, _clock);
        CancellationToken token = timeout.Begin(_clock.NowMilliseconds);

        _time.Advance(Timeout - TimeSpan.FromMilliseconds(1));
        Assert.False(token.IsCancellationRequested);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(token.IsCancellationRequested);
        timeout.End();
    }

    [Fact]
    public void Each_attempt_is_timed_from_its_own_start_not_the_first_ones()
    {
        using var timeout = new AttemptTimeout(CancellationToken.None, Timeout, _clock);
        CancellationToken first = timeout.Begin(_clock.NowMilliseconds);
        _time.Advance(Timeout / 2);
        timeout.End();

        CancellationToken second = timeout.Begin(_clock.NowMilliseconds);
        // Past the first attempt's deadline (the timer wakes for it), but not the second's.
        _time.Advance(Timeout * 0.8);
        Assert.False(second.IsCancellationRequested, "the second attempt was cancelled by the first one's deadline");
        Assert.False(first.IsCancellationRequested, "an attempt that ended in time was cancelled afterwards");

        _time.Advance(Timeout * 0.2);
        Assert.True(second.IsCancellationRequested);
        timeout.End();
    }

    [Fact]
    public void Attempts_that_end_in_time_are_never_cancelled_and_share_one_source()
    {
        using var timeout = new AttemptTimeout(CancellationToken.None, TimeSpan.FromMilliseconds(100), _clock);
        CancellationToken first = timeout.Begin(_clock.NowMilliseconds);
        timeout.End();
        for (int i = 0; i < 80; i++)
        {
            // Many short attempts across several timer periods.
            CancellationToken token = timeout.Begin(_clock.NowMilliseconds);
            Assert.Equal(first, token);
            _time.Advance(TimeSpan.FromMilliseconds(5));
            Assert.False(token.IsCancellationRequested, $"a 5 ms attempt was cancelled in round {i}");
            timeout.End();
        }
    }

    [Fact]
    public void After_a_timeout_the_next_attempt_gets_a_fresh_token()
    {
        using var timeout = new AttemptTimeout(CancellationToken.None, TimeSpan.FromMilliseconds(50), _clock);
        CancellationToken expired = timeout.Begin(_clock.NowMilliseconds);
        _time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.True(expired.IsCancellationRequested);
        timeout.End();

        CancellationToken next = timeout.Begin(_clock.NowMilliseconds);

        Assert.False(next.IsCancellationRequested);
        Assert.NotEqual(expired, next);
        _time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.True(next.IsCancellationRequested);
        timeout.End();
    }

    [Fact]
    public void The_linked_token_cancels_the_running_attempt_and_its_source_is_not_reused()
    {
        using var connectionClosed = new CancellationTokenSource();
        using var timeout = new AttemptTimeout(connectionClosed.Token, TimeSpan.FromMinutes(5), _clock);
        CancellationToken token = timeout.Begin(_clock.NowMilliseconds);

        connectionClosed.Cancel();

        Assert.True(token.IsCancellationRequested);
        timeout.End();
        Assert.NotEqual(token, timeout.Begin(_clock.NowMilliseconds));
        timeout.End();
    }

    [Fact]
    public void A_disposed_timeout_refuses_new_attempts_and_a_zero_timeout_is_refused()
    {
        var timeout = new AttemptTimeout(CancellationToken.None, Timeout, _clock);
        timeout.Begin(_clock.NowMilliseconds);
        timeout.End();
        timeout.Dispose();

        Assert.Throws<ObjectDisposedException>(() => timeout.Begin(_clock.NowMilliseconds));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AttemptTimeout(CancellationToken.None, TimeSpan.Zero, _clock));
    }

    [Fact]
    public void On_the_system_clock_it_fires_in_real_time_too()
    {
        using var timeout = new AttemptTimeout(CancellationToken.None, TimeSpan.FromMilliseconds(20), ProxyClock.System);
        CancellationToken token = timeout.Begin(ProxyClock.System.NowMilliseconds);
        Assert.True(token.WaitHandle.WaitOne(TimeSpan.FromSeconds(10)), "not cancelled within 10 s");
        timeout.End();
    }
}
