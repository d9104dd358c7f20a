using System.Runtime.CompilerServices;
using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Per-node latency state for <see cref="PeakEwma{TNode}"/>, as in Finagle's and Linkerd's balancers: a peak-sensitive
/// exponentially weighted moving average of latency, and the requests in flight. The average decays toward 0 with time
/// constant <c>decay</c>; a new latency above the decayed average replaces it at once (the peak), one below it is
/// blended in with weight <c>1 - exp(-elapsed / decay)</c>, elapsed being the time since the last report. A node's cost is
/// <c>average x (in flight + 1)</c>.
/// </summary>
/// <remarks>
/// <para>
/// <b>Unmeasured nodes.</b> A node with no latency yet costs 0 while nothing is in flight on it, so it is tried at
/// once; once a request is in flight on it, it costs a large penalty (Finagle's) until that request reports, so a new
/// node is not flooded before its first answer.
/// </para>
/// <para>
/// The caller brackets each request: <see cref="Begin"/> when it is sent to candidate <c>index</c>,
/// <see cref="Report"/> with its latency when it completes, failed or not. Indices are candidate indices; the tracker
/// does not know ids. Time comes from the <see cref="TimeProvider"/>. Thread-safe; nothing is allocated after
/// construction. A pick reads the average and its time stamp without a lock (a report racing with it moves the cost
/// by at most that one report).
/// </para>
/// </remarks>
/// <example>
/// <code>
/// var tracker = new PeakEwmaTracker(backends.Length);
/// var strategy = new PeakEwma&lt;Backend&gt;(tracker);
/// strategy.TrySelect(backends, SelectionContext.Empty, out int index);
/// tracker.Begin(index);
/// long started = Stopwatch.GetTimestamp();
/// await SendAsync(backends[index]);
/// tracker.Report(index, Stopwatch.GetElapsedTime(started));
/// </code>
/// </example>
public sealed class PeakEwmaTracker
{
    /// <summary>The cost of an unmeasured node with a request in flight: far above any latency-based cost.</summary>
    public const double UnmeasuredPenalty = 1e12;

    private readonly Slot[] _slots;
    private readonly InFlightCounter _inFlight;
    private readonly TickClock _clock;
    private readonly double _decayTicks;

    /// <summary>Creates a tracker for <paramref name="capacity"/> candidate indices, all unmeasured.</summary>
    /// <param name="capacity">The number of candidate indices, 0 or more.</param>
    /// <param name="decay">The time constant of the decay, above zero (default 10 s, as Linkerd).</param>
    /// <param name="timeProvider">The clock (default <see cref="TimeProvider.System"/>); tests pass a fake one.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is negative or <paramref name="decay"/> is not above zero.</exception>
    /// <example><code>var tracker = new PeakEwmaTracker(16, decay: TimeSpan.FromSeconds(5));</code></example>
    public PeakEwmaTracker(int capacity, TimeSpan? decay = null, TimeProvider? timeProvider = null)
    {
        TimeSpan tau = decay ?? TimeSpan.FromSeconds(10);
        if (tau <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(decay), tau, "The decay time constant must be above zero; 10 seconds is the default.");
        }

        _inFlight = new InFlightCounter(capacity);
        _slots = new Slot[capacity];
        _clock = new TickClock(timeProvider ?? TimeProvider.System);
        _decayTicks = tau.Ticks;
        Decay = tau;
    }

    /// <summary>Gets the decay time constant.</summary>
    /// <example><code>TimeSpan tau = tracker.Decay; // 10 s</code></example>
    public TimeSpan Decay { get; }

    /// <summary>Gets the number of candidate indices tracked.</summary>
    /// <example><code>int n = tracker.Capacity;</code></example>
    public int Capacity => _slots.Length;

    /// <summary>Gets the requests in flight on <paramref name="index"/>.</summary>
    /// <param name="index">A candidate index.</param>
    /// <returns>The count; 0 past <see cref="Capacity"/>.</returns>
    /// <example><code>long busy = tracker.InFlight(2);</code></example>
    public long InFlight(int index) => _inFlight[index];

    /// <summary>Counts a request sent to <paramref name="index"/>.</summary>
    /// <param name="index">The candidate index.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside 0..Capacity-1.</exception>
    /// <example><code>tracker.Begin(index);</code></example>
    public void Begin(int index) => _inFlight.Begin(index);

    /// <summary>
    /// Counts a request on <paramref name="index"/> as completed without a latency sample: for a request whose time says
    /// nothing about the node (the client left, or its own upload took the time).
    /// </summary>
    /// <param name="index">The candidate index the request was sent to.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside 0..Capacity-1.</exception>
    /// <example><code>tracker.Abandon(index);</code></example>
    public void Abandon(int index) => _inFlight.End(index);

    /// <summary>Reports the latency of a request on <paramref name="index"/> and counts it as completed.</summary>
    /// <param name="index">The candidate index the request was sent to.</param>
    /// <param name="latency">How long it took; a negative value counts as 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside 0..Capacity-1.</exception>
    /// <example><code>tracker.Report(index, TimeSpan.FromMilliseconds(12));</code></example>
    public void Report(int index, TimeSpan latency)
    {
        _inFlight.End(index); // checks the index
        double sample = Math.Max(0, latency.Ticks);
        long now = _clock.Now();
        ref Slot slot = ref _slots[index];
        lock (_slots)
        {
            // EWMA with weight w = exp(-elapsed / decay) on the old value: old x w + sample x (1 - w); a sample above
            // the decayed old value (old x w) is a new peak and replaces it.
            double weight = slot.Stamp == 0 ? 0 : Math.Exp(-Math.Max(0, now - slot.Stamp) / _decayTicks);
            double current = slot.Average * weight;
            double average = sample > current ? sample : current + (sample * (1 - weight));
            long stamp = Math.Max(now, 1);
            Volatile.Write(ref slot.Average, average);
            Volatile.Write(ref slot.Rank, Math.Log(average) + (stamp / _decayTicks));
            Volatile.Write(ref slot.Stamp, stamp);
        }
    }

    /// <summary>Gets the latency average of <paramref name="index"/> now (decayed since its last report); zero when unmeasured.</summary>
    /// <param name="index">A candidate index.</param>
    /// <returns>The average.</returns>
    /// <example><code>TimeSpan average = tracker.Average(0);</code></example>
    public TimeSpan Average(int index) =>
        (uint)index < (uint)_slots.Length ? TimeSpan.FromTicks((long)Decayed(_slots[index].Average, _slots[index].Stamp, _clock.Now())) : TimeSpan.Zero;

    /// <summary>Gets the cost of <paramref name="index"/> now: average latency (in ticks) x (in flight + 1), or the unmeasured rules.</summary>
    /// <param name="index">A candidate index; one past <see cref="Capacity"/> is unmeasured.</param>
    /// <returns>The cost; lower is better.</returns>
    /// <example><code>double cost = tracker.Cost(3);</code></example>
    public double Cost(int index) => Cost(index, _clock.Now());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal double Cost(int index, long now)
    {
        long pending = _inFlight[index];
        if ((uint)index >= (uint)_slots.Length)
        {
            return pending == 0 ? 0 : UnmeasuredPenalty;
        }

        long stamp = Volatile.Read(ref _slots[index].Stamp);
        double average = Volatile.Read(ref _slots[index].Average);
        if (stamp == 0)
        {
            return pending == 0 ? 0 : UnmeasuredPenalty + pending;
        }

        return Decayed(average, stamp, now) * (pending + 1);
    }

    /// <summary>
    /// A number that orders nodes as their costs do, without the exponential: <c>ln(cost)</c> plus <c>now / decay</c>,
    /// which is the same for every node at one instant. A measured node's rank is <c>ln(average) + stamp / decay +
    /// ln(in flight + 1)</c>, taken from the log kept at report time and a table of small logs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal double Rank(int index)
    {
        long pending = _inFlight[index];
        if ((uint)index >= (uint)_slots.Length || Volatile.Read(ref _slots[index].Stamp) == 0)
        {
            return pending == 0 ? double.NegativeInfinity : UnmeasuredRank + pending;
        }

        return Volatile.Read(ref _slots[index].Rank) + ((ulong)pending < (ulong)LogOnePlus.Length ? LogOnePlus[pending] : Math.Log(pending + 1.0));
    }

    // Above any measured rank (its time term, ticks / decay, stays below 1e14 for any decay of a millisecond or more),
    // as the penalty is above any cost.
    private const double UnmeasuredRank = 1e15;

    private static readonly double[] LogOnePlus = Enumerable.Range(0, 256).Select(static p => Math.Log(p + 1.0)).ToArray();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private double Decayed(double average, long stamp, long now) =>
        stamp == 0 || now <= stamp ? average : average * Math.Exp(-(now - stamp) / _decayTicks);

    private struct Slot
    {
        public double Average;
        public long Stamp; // 0 until the first report
        public double Rank; // ln(Average) + Stamp / decay: see Rank(int)
    }
}
