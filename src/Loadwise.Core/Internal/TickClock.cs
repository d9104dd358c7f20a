using System.Runtime.CompilerServices;

namespace Loadwise.Internal;

/// <summary>
/// The time source behind health and quota tracking, in 100 ns ticks from an arbitrary origin. With
/// <see cref="TimeProvider.System"/> it reads <see cref="Environment.TickCount64"/> (a coarse monotonic clock costing
/// a few ns, millisecond resolution), because a precise clock read (~20 ns) would use up a per-pick budget of tens of
/// ns on its own; any other provider (a test's fake clock) is read through <see cref="TimeProvider.GetUtcNow"/>, so
/// tests control time exactly.
/// </summary>
internal sealed class TickClock
{
    private readonly bool _system;

    public TickClock(TimeProvider provider)
    {
        Provider = provider;
        _system = ReferenceEquals(provider, TimeProvider.System);
    }

    public TimeProvider Provider { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Now() => _system ? Environment.TickCount64 * TimeSpan.TicksPerMillisecond : Provider.GetUtcNow().UtcTicks;

    /// <summary>Converts a tick value of this clock to wall-clock time (for persisted state).</summary>
    public DateTimeOffset ToWallClock(long ticks) => Provider.GetUtcNow() + TimeSpan.FromTicks(ticks - Now());

    /// <summary>Converts wall-clock time (from persisted state) to a tick value of this clock.</summary>
    public long FromWallClock(DateTimeOffset time) => Now() + (time - Provider.GetUtcNow()).Ticks;
}
