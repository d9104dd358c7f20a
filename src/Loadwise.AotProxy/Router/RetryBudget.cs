using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.Router;

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

    /// <summary>Creates a budget.</summary>
    /// <param name="window">The sliding window.</param>
    /// <param name="percent">Retries allowed, in percent of the requests in the window.</param>
    /// <param name="minRetries">Retries always allowed per window.</param>
    public RetryBudget(TimeSpan window, int percent, int minRetries)
    {
        _slotMilliseconds = Math.Max(1, (long)(window.TotalMilliseconds / Slots));
        _percent = percent;
        _minRetries = minRetries;
    }

    /// <summary>
    /// Counts a request (every request, first attempts only). The time, in <see cref="ProxyClock"/> milliseconds, is
    /// the caller's: a request passes the reading it took when it started, and tests a fake one.
    /// </summary>
    public void OnRequest(long now) => _requests.Add(Slot(now), 1);

    /// <summary>Claims one retry at <paramref name="now"/> (<see cref="ProxyClock"/> milliseconds); false when the budget is spent.</summary>
    public bool TryRetry(long now)
    {
        int slot = Slot(now);
        long requests = 0;
        long retries = 0;
        long oldest = (now / _slotMilliseconds) - (Slots - 1);
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

    /// <summary>Returns the slot of <paramref name="now"/>, clearing it first when it last held an older period.</summary>
    private int Slot(long now)
    {
        long period = now / _slotMilliseconds;
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
