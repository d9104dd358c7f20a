using System.Runtime.CompilerServices;

namespace Loadwise;

/// <summary>
/// One limit of a <see cref="NodeQuota"/>: a sliding window estimated from two fixed buckets (the current window and the
/// one before it, weighted by how much of it still overlaps), as Cloudflare's rate limiter does. Writes happen under the
/// quota's lock; reads are lock-free, checked by the quota's sequence counter.
/// </summary>
internal sealed class QuotaDimension
{
    private readonly double _inverseWindow;
    private long _windowStart;
    private double _current;
    private double _previous;

    public QuotaDimension(QuotaLimit limit, long now)
    {
        Limit = limit;
        Unit = limit.Unit;
        Capacity = limit.Limit;
        WindowTicks = limit.Window.Ticks;
        _inverseWindow = 1.0 / WindowTicks;
        _windowStart = Align(now);
    }

    public QuotaLimit Limit { get; }

    public QuotaUnit Unit { get; }

    public double Capacity { get; }

    public long WindowTicks { get; }

    /// <summary>The sliding estimate; every field is read with acquire semantics for the reader's sequence check.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double Used(long now)
    {
        long elapsed = now - Volatile.Read(ref _windowStart);
        double current = Volatile.Read(ref _current);
        double previous = Volatile.Read(ref _previous);
        if (elapsed < 0)
        {
            elapsed = 0; // a clock that stepped back: treat as the window's start
        }

        if (elapsed < WindowTicks)
        {
            return (previous * (1 - (elapsed * _inverseWindow))) + current;
        }

        // The current window has ended (no charge rolled it yet): it is now the previous one.
        return elapsed < 2 * WindowTicks ? current * (1 - ((elapsed - WindowTicks) * _inverseWindow)) : 0;
    }

    /// <summary>Moves the buckets forward so that <c>_windowStart</c> is the window holding <paramref name="now"/>.</summary>
    public void Roll(long now)
    {
        long elapsed = now - _windowStart;
        if (elapsed < WindowTicks)
        {
            return;
        }

        if (elapsed < 2 * WindowTicks)
        {
            _previous = _current;
            _windowStart += WindowTicks;
        }
        else
        {
            _previous = 0;
            _windowStart += elapsed / WindowTicks * WindowTicks;
        }

        _current = 0;
    }

    /// <summary>Adds to the bucket of the window holding <paramref name="at"/>; older windows have slid out.</summary>
    public void AddAt(long at, double amount)
    {
        if (at >= _windowStart)
        {
            _current = Math.Max(0, _current + amount);
        }
        else if (at >= _windowStart - WindowTicks)
        {
            _previous = Math.Max(0, _previous + amount);
        }
    }

    public void CopyUsage(QuotaDimension other)
    {
        _windowStart = other._windowStart;
        _current = other._current;
        _previous = other._previous;
    }

    private long Align(long now) => now - (((now % WindowTicks) + WindowTicks) % WindowTicks);
}
