namespace Loadwise.Http;

/// <summary>
/// Caps retries at a ratio of requests plus a floor per second, as Finagle's and Linkerd's retry budgets do, so that a
/// failing fleet does not see its load multiplied by retries. Lock-free: tokens are kept in thousandths.
/// </summary>
internal sealed class RetryBudget(double ratio, int minPerSecond, TimeProvider time)
{
    private const long Scale = 1000;
    private readonly long _perRequest = (long)(ratio * Scale);
    private readonly long _cap = Math.Max(minPerSecond, 1) * 10 * Scale;
    private readonly long _floorPerSecond = minPerSecond * Scale;
    private long _tokens = Math.Max(minPerSecond, 1) * Scale;
    private long _lastRefill = time.GetTimestamp();

    public void OnRequest() => Add(_perRequest);

    public bool TryWithdraw()
    {
        Refill();
        while (true)
        {
            long tokens = Volatile.Read(ref _tokens);
            if (tokens < Scale)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _tokens, tokens - Scale, tokens) == tokens)
            {
                return true;
            }
        }
    }

    private void Refill()
    {
        long now = time.GetTimestamp();
        long last = Volatile.Read(ref _lastRefill);
        long elapsed = now - last;
        if (elapsed < time.TimestampFrequency / 10 || Interlocked.CompareExchange(ref _lastRefill, now, last) != last)
        {
            return;
        }

        Add((long)(_floorPerSecond * (double)elapsed / time.TimestampFrequency));
    }

    private void Add(long amount)
    {
        while (true)
        {
            long tokens = Volatile.Read(ref _tokens);
            long next = Math.Min(_cap, tokens + amount);
            if (next == tokens || Interlocked.CompareExchange(ref _tokens, next, tokens) == tokens)
            {
                return;
            }
        }
    }
}
