using System.Diagnostics;

namespace Loadwise.AotProxy.Threading;

/// <summary>
/// The one monotonic millisecond clock of the request path: <see cref="Stopwatch"/> ticks in milliseconds. A request
/// reads the clock once when it starts (for its duration) and hands that reading to what would otherwise read it again
/// (the retry budget, the attempt timeout, the connection pool): each read costs about 20 ns here, and a request made
/// eight of them. Everything that compares these stamps must take them from this clock.
/// </summary>
/// <example>
/// <code>
/// long started = Stopwatch.GetTimestamp();
/// long nowMs = ProxyClock.Milliseconds(started); // the same instant, in this clock's milliseconds
/// bool expired = ProxyClock.NowMilliseconds - nowMs > 30_000;
/// </code>
/// </example>
internal static class ProxyClock
{
    private static readonly long TicksPerMillisecond = Math.Max(1, Stopwatch.Frequency / 1000);

    /// <summary>Gets the current time in milliseconds (one clock read).</summary>
    public static long NowMilliseconds => Milliseconds(Stopwatch.GetTimestamp());

    /// <summary>Converts a <see cref="Stopwatch.GetTimestamp"/> reading to this clock's milliseconds, without reading the clock.</summary>
    public static long Milliseconds(long timestamp) => timestamp / TicksPerMillisecond;
}
