namespace Loadwise.AotProxy.Threading;

/// <summary>
/// The one monotonic millisecond clock of the proxy, over a <see cref="TimeProvider"/> (the system's, or a test's
/// fake, which then drives every timeout, deadline, pool expiry and retry window). A request reads the clock once when
/// it starts and hands that reading to what would otherwise read it again (the retry budget, the attempt timeout, the
/// connection pool). Everything that compares these stamps must take them from the same clock.
/// </summary>
/// <example>
/// <code>
/// var clock = new ProxyClock(TimeProvider.System);
/// long started = clock.Timestamp;
/// long nowMs = clock.Milliseconds(started);       // the same instant, in this clock's milliseconds
/// bool expired = clock.NowMilliseconds - nowMs > 30_000;
/// </code>
/// </example>
internal sealed class ProxyClock
{
    private readonly long _ticksPerMillisecond;

    /// <summary>Creates the clock over <paramref name="time"/>.</summary>
    public ProxyClock(TimeProvider time)
    {
        Time = time;
        _ticksPerMillisecond = Math.Max(1, time.TimestampFrequency / 1000);
    }

    /// <summary>Gets the clock over the system's time.</summary>
    public static ProxyClock System { get; } = new(TimeProvider.System);

    /// <summary>Gets the time provider behind the clock (for timers and delays).</summary>
    public TimeProvider Time { get; }

    /// <summary>Gets a raw timestamp (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long Timestamp => Time.GetTimestamp();

    /// <summary>Gets the current time in milliseconds (one clock read).</summary>
    public long NowMilliseconds => Milliseconds(Time.GetTimestamp());

    /// <summary>Converts a <see cref="Timestamp"/> reading to this clock's milliseconds, without reading the clock.</summary>
    public long Milliseconds(long timestamp) => timestamp / _ticksPerMillisecond;

    /// <summary>Gets the time elapsed since a <see cref="Timestamp"/> reading.</summary>
    public TimeSpan Elapsed(long timestamp) => Time.GetElapsedTime(timestamp);

    /// <summary>Creates a timer on this clock's time (first due after <paramref name="due"/>, then every <paramref name="period"/>).</summary>
    public ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan due, TimeSpan period)
    {
        // Timers do not carry the creating request's execution context.
        using (ExecutionContext.SuppressFlow())
        {
            return Time.CreateTimer(callback, state, due, period);
        }
    }
}
