namespace Loadwise;

/// <summary>
/// Counts the requests in flight on each candidate index, and their total, so that load-aware strategies read a node's
/// load and the average in O(1). The caller brackets each request: <see cref="Begin"/> when it is sent to a node,
/// <see cref="End"/> when it completes (success or failure). Thread-safe; nothing is allocated after construction.
/// </summary>
/// <remarks>
/// Indices are the candidate indices of the span the strategies are given. When the candidate set changes, carry the
/// counts over by id (or start a new counter): the counter does not know ids.
/// </remarks>
/// <example>
/// <code>
/// var inFlight = new InFlightCounter(backends.Length);
/// inFlight.Begin(index);
/// try { await SendAsync(backends[index]); } finally { inFlight.End(index); }
/// </code>
/// </example>
public sealed class InFlightCounter
{
    private readonly long[] _counts;
    private long _total;

    /// <summary>Creates a counter for <paramref name="capacity"/> candidate indices, all at 0.</summary>
    /// <param name="capacity">The number of candidate indices, 0 or more.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is negative.</exception>
    /// <example><code>var inFlight = new InFlightCounter(16);</code></example>
    public InFlightCounter(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _counts = new long[capacity];
    }

    /// <summary>Gets the number of candidate indices counted.</summary>
    /// <example><code>int n = inFlight.Capacity;</code></example>
    public int Capacity => _counts.Length;

    /// <summary>Gets the total in flight over every index.</summary>
    /// <example><code>long total = inFlight.Total;</code></example>
    public long Total => Volatile.Read(ref _total);

    /// <summary>Gets the number in flight on <paramref name="index"/>; an index past <see cref="Capacity"/> reads 0.</summary>
    /// <param name="index">A candidate index.</param>
    /// <returns>The count.</returns>
    /// <example><code>long busy = inFlight[3];</code></example>
    public long this[int index] => (uint)index < (uint)_counts.Length ? Volatile.Read(ref _counts[index]) : 0;

    /// <summary>Counts one more request on <paramref name="index"/>.</summary>
    /// <param name="index">The index the request was sent to.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside 0..Capacity-1.</exception>
    /// <example><code>inFlight.Begin(index);</code></example>
    public void Begin(int index)
    {
        CheckIndex(index);
        Interlocked.Increment(ref _counts[index]);
        Interlocked.Increment(ref _total);
    }

    /// <summary>Counts one request on <paramref name="index"/> as completed; a count never goes below 0.</summary>
    /// <param name="index">The index the request was sent to.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside 0..Capacity-1.</exception>
    /// <example><code>inFlight.End(index);</code></example>
    public void End(int index)
    {
        CheckIndex(index);
        long current = Volatile.Read(ref _counts[index]);
        while (current > 0)
        {
            long seen = Interlocked.CompareExchange(ref _counts[index], current - 1, current);
            if (seen == current)
            {
                Interlocked.Decrement(ref _total);
                return;
            }

            current = seen;
        }
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)_counts.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Index {index} is outside the counter's {_counts.Length} candidates; construct it with new InFlightCounter(candidates.Length).");
        }
    }
}
