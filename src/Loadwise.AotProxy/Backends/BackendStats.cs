using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.Backends;

/// <summary>
/// One backend's last minute, for the admin API and status page: requests, errors and a latency histogram. A request
/// adds to per-core cumulative cells (no lock, no shared cache line); once a second <see cref="Sample"/> stores the
/// difference in a 60-slot ring, which <see cref="LastMinute"/> sums. Kept apart from the Prometheus histogram, which
/// is cumulative and cannot answer "p99 over the last minute".
/// </summary>
/// <example><code>
/// backend.Stats.Record(elapsedMilliseconds: 3.2, failed: false);
/// backend.Stats.Sample(second);                       // once a second, from one thread
/// BackendStats.Window minute = backend.Stats.LastMinute();
/// </code></example>
internal sealed class BackendStats
{
    /// <summary>Upper bounds of the latency buckets in milliseconds (the last bucket is everything above).</summary>
    public static readonly double[] BucketBounds = [0.5, 1, 2, 3, 5, 7.5, 10, 15, 25, 50, 75, 100, 250, 500, 1_000, 2_500, 5_000, 10_000];

    private const int Slots = 60;
    private const int Fields = 2 + 19; // requests, errors, then one count per bucket (BucketBounds.Length + 1)

    private readonly PerCoreCells _cells = new(Fields);
    private readonly long[] _previous = new long[Fields];
    private readonly long[] _ring = new long[Slots * Fields];
    private readonly Lock _sampling = new();
    private long _sampled = -1;
    private string? _lastError;
    private DateTimeOffset _lastErrorAt;

    /// <summary>Records one finished request.</summary>
    public void Record(double elapsedMilliseconds, bool failed)
    {
        int bucket = 0;
        while (bucket < BucketBounds.Length && elapsedMilliseconds > BucketBounds[bucket])
        {
            bucket++;
        }

        _cells.Add(0, 1);
        if (failed)
        {
            _cells.Add(1, 1);
        }

        _cells.Add(2 + bucket, 1);
    }

    /// <summary>Records the latest failure's message, shown by the admin API until a newer one.</summary>
    public void RecordError(DateTimeOffset at, string message)
    {
        lock (_sampling)
        {
            _lastError = message;
            _lastErrorAt = at;
        }
    }

    /// <summary>Gets the last error and when it happened, or null.</summary>
    public (string Message, DateTimeOffset At)? LastError
    {
        get
        {
            lock (_sampling)
            {
                return _lastError is { } message ? (message, _lastErrorAt) : null;
            }
        }
    }

    /// <summary>
    /// Closes second <paramref name="second"/> (seconds on any steady clock): what was recorded since the last sample goes
    /// to its slot; seconds skipped since are empty.
    /// </summary>
    public void Sample(long second)
    {
        lock (_sampling)
        {
            if (second <= _sampled)
            {
                return;
            }

            // Seconds with no sample (the sampler was late) are emptied, not left holding a minute-old count.
            for (long s = Math.Max(_sampled + 1, second - Slots + 1); s < second; s++)
            {
                Array.Clear(_ring, SlotOf(s) * Fields, Fields);
            }

            int at = SlotOf(second) * Fields;
            for (int f = 0; f < Fields; f++)
            {
                long total = _cells.Sum(f);
                _ring[at + f] = total - _previous[f];
                _previous[f] = total;
            }

            _sampled = second;
        }
    }

    /// <summary>Sums the last 60 sampled seconds.</summary>
    public Window LastMinute()
    {
        lock (_sampling)
        {
            long requests = 0, errors = 0;
            var buckets = new long[BucketBounds.Length + 1];
            var perSecond = new long[Slots];
            for (int i = 0; i < Slots && _sampled >= 0; i++)
            {
                long second = _sampled - (Slots - 1) + i;
                if (second < 0)
                {
                    continue;
                }

                int at = SlotOf(second) * Fields;
                perSecond[i] = _ring[at];
                requests += _ring[at];
                errors += _ring[at + 1];
                for (int b = 0; b < buckets.Length; b++)
                {
                    buckets[b] += _ring[at + 2 + b];
                }
            }

            return new Window(requests, errors, buckets, perSecond);
        }
    }

    private static int SlotOf(long second) => (int)(second % Slots);

    /// <summary>A minute of one backend's requests.</summary>
    /// <param name="Requests">Requests finished in the window.</param>
    /// <param name="Errors">Of which failed (the proxy answered 5xx for them, or the backend did).</param>
    /// <param name="Buckets">Requests per latency bucket (<see cref="BucketBounds"/>, then everything above).</param>
    /// <param name="PerSecond">Requests per second, oldest first (60 values).</param>
    internal sealed record Window(long Requests, long Errors, long[] Buckets, long[] PerSecond)
    {
        /// <summary>Gets requests per second over the minute.</summary>
        public double Rate => Requests / (double)Slots;

        /// <summary>
        /// Gets a latency quantile in milliseconds: its bucket's upper bound (the largest bound, 10 000, for anything
        /// slower), or null without requests.
        /// </summary>
        public double? Quantile(double q)
        {
            if (Requests == 0)
            {
                return null;
            }

            long rank = Math.Max(1, (long)Math.Ceiling(q * Requests));
            long seen = 0;
            for (int b = 0; b < BucketBounds.Length; b++)
            {
                seen += Buckets[b];
                if (seen >= rank)
                {
                    return BucketBounds[b];
                }
            }

            return BucketBounds[^1];
        }
    }
}
