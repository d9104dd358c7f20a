
namespace Loadwise.AotProxy.Threading;

/// <summary>
/// The response-headers timeout of one client connection's attempts, which run one after another. Instead of arming a
/// timer per attempt (<see cref="CancellationTokenSource.CancelAfter(TimeSpan)"/> and a reset after it, two timer-queue
/// updates under its lock per request), an attempt only stamps its start; one timer
/// per connection wakes when the oldest possible deadline is due, cancels the attempt if it is really overdue, and
/// otherwise sleeps until the running attempt's own deadline. An attempt costs a store and an exchange: its start is the
/// caller's clock reading (<see cref="ProxyClock"/>).
/// </summary>
/// <example>
/// <code>
/// using var timeout = new AttemptTimeout(connectionClosed, TimeSpan.FromSeconds(30), clock);
/// CancellationToken token = timeout.Begin(clock.NowMilliseconds);
/// try { await SendAndReadHeadAsync(token); } finally { timeout.End(); }
/// </code>
/// </example>
internal sealed class AttemptTimeout : IDisposable
{
    private readonly CancellationToken _linked;
    private readonly long _timeoutMs;
    private readonly ProxyClock _clock;
    private CancellationTokenSource? _source;
    private ITimer? _timer;

    // The running attempt's start (ProxyClock milliseconds, at least 1); 0 when none runs, or when the timer claimed it.
    private long _started;
    private bool _disposed;

    /// <summary>Creates the timeout for attempts that also end when <paramref name="linked"/> fires (the client's connection closing).</summary>
    public AttemptTimeout(CancellationToken linked, TimeSpan timeout, ProxyClock clock)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.FromMilliseconds(1));
        _linked = linked;
        _clock = clock;
        _timeoutMs = (long)Math.Ceiling(timeout.TotalMilliseconds);
    }

    /// <summary>
    /// Starts an attempt at <paramref name="now"/> (<see cref="ProxyClock"/> milliseconds): the token fires once it has
    /// run for the timeout, or when the linked token fires. Call <see cref="End"/> before the next <see cref="Begin"/>;
    /// attempts of one instance must not overlap.
    /// </summary>
    public CancellationToken Begin(long now)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CancellationTokenSource source = _source ??= CancellationTokenSource.CreateLinkedTokenSource(_linked);
        // Published after the source: the timer reads the start, then the source.
        Volatile.Write(ref _started, Math.Max(1, now));
        if (_timer is null)
        {
            // Armed once and kept armed: an idle connection's timer wakes once per timeout and goes back to sleep.
            // Assigned before it first runs, as the callback re-arms it through the field.
            _timer = _clock.CreateTimer(static state => ((AttemptTimeout)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timer.Change(TimeSpan.FromMilliseconds(_timeoutMs), Timeout.InfiniteTimeSpan);
        }

        return source.Token;
    }

    /// <summary>Ends the attempt <see cref="Begin"/> started; its source is kept for the next one unless it fired.</summary>
    public void End()
    {
        if (Interlocked.Exchange(ref _started, 0) == 0)
        {
            // The timer claimed this attempt: it cancels and disposes the source, so it must not be reused or touched.
            _source = null;
        }
        else if (_source is { IsCancellationRequested: true } cancelled)
        {
            // The linked token fired; a cancelled source cannot be reused.
            cancelled.Dispose();
            _source = null;
        }
    }

    /// <summary>Stops the timer and releases the source; call it once no attempt is running (after the last <see cref="End"/>).</summary>
    public void Dispose()
    {
        _disposed = true;
        _timer?.Dispose();
        _source?.Dispose();
        _source = null;
    }

    private void OnTimer()
    {
        long started = Volatile.Read(ref _started);
        CancellationTokenSource? source = Volatile.Read(ref _source);
        long now = _clock.NowMilliseconds;
        long due = started == 0 ? _timeoutMs : started + _timeoutMs - now;
        if (due <= 0)
        {
            // Claimed only if the same attempt still runs: one that ended, and any later one, has another start.
            if (source is not null && Interlocked.CompareExchange(ref _started, 0, started) == started)
            {
                try
                {
                    source.Cancel();
                }
                catch (AggregateException)
                {
                    // A callback of the attempt failed; the attempt still sees its token cancelled.
                }
                finally
                {
                    source.Dispose();
                }
            }

            due = _timeoutMs;
        }

        try
        {
            _timer?.Change(TimeSpan.FromMilliseconds(due), Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // The connection is finished.
        }
    }
}
