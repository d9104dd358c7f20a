using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.Forwarding;

/// <summary>
/// Caps retries at a share of recent requests, so that a sick fleet is not stormed by its own retries: a retry is
/// allowed while the retries in the sliding window stay below <c>max(minRetries, percent% of requests)</c>. The window
/// is ten slots of a tenth of its length each; counts are approximate under contention (a budget need not be exact)
/// and nothing allocates.
/// </summary>
internal sealed class RetryBudget
{
    private const int Slots = 10;

    private readonly long[] _slotStamp = new long[Slots];
    private readonly PerCoreCells _requests = new(Slots); // every request counts; per core, so cores don't share the line
    private readonly long[] _retries = new long[Slots];
    private readonly long _slotMilliseconds;
    private readonly int _percent;
    private readonly int _minRetries;
    private readonly Func<long>? _now;

    /// <summary>Creates a budget.</summary>
    /// <param name="window">The sliding window.</param>
    /// <param name="percent">Retries allowed, in percent of the requests in the window.</param>
    /// <param name="minRetries">Retries always allowed per window.</param>
    /// <param name="now">A millisecond clock (tests pass a fake one); null for <see cref="Environment.TickCount64"/>.</param>
    public RetryBudget(TimeSpan window, int percent, int minRetries, Func<long>? now = null)
    {
        _slotMilliseconds = Math.Max(1, (long)(window.TotalMilliseconds / Slots));
        _percent = percent;
        _minRetries = minRetries;
        _now = now;
    }

    /// <summary>Counts a request (every request, first attempts only).</summary>
    public void OnRequest() => _requests.Add(Current(), 1);

    /// <summary>Claims one retry; false when the budget is spent.</summary>
    public bool TryRetry()
    {
        int slot = Current();
        long requests = 0;
        long retries = 0;
        long oldest = (Now() / _slotMilliseconds) - (Slots - 1);
        for (int i = 0; i < Slots; i++)
        {
            if (Volatile.Read(ref _slotStamp[i]) >= oldest)
            {
                requests += _requests.Sum(i);
                retries += Volatile.Read(ref _retries[i]);
            }
        }

        long allowed = Math.Max(_minRetries, requests * _percent / 100);
        if (retries >= allowed)
        {
            return false;
        }

        Interlocked.Increment(ref _retries[slot]);
        return true;
    }

    /// <summary>Returns the current slot, clearing it first when it last held an older period.</summary>
    /// <summary>The coarse millisecond clock by default: read on every request, and slots are far longer than its steps.</summary>
    private long Now() => _now is null ? Environment.TickCount64 : _now();

    private int Current()
    {
        long period = Now() / _slotMilliseconds;
        int slot = (int)(period % Slots);
        long stamp = Volatile.Read(ref _slotStamp[slot]);
        if (stamp != period && Interlocked.CompareExchange(ref _slotStamp[slot], period, stamp) == stamp)
        {
            _requests.Reset(slot);
            Volatile.Write(ref _retries[slot], 0);
        }

        return slot;
    }
}
