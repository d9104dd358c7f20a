using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Power of two choices over peak-EWMA cost (Finagle's and Linkerd's default balancer): two <b>distinct</b> candidates
/// are sampled and the one with the lower <see cref="PeakEwmaTracker.Cost(int)"/>, latency average x (in flight + 1),
/// wins (ties go to the first sample). A node that turns slow is avoided as soon as one slow answer reports, without
/// waiting for its in-flight count to grow; one that recovers wins back traffic as its average decays.
/// </summary>
/// <remarks>
/// Latency reaches the strategy only through the tracker (<see cref="PeakEwmaTracker.Begin"/> and
/// <see cref="PeakEwmaTracker.Report"/>), by candidate index. Unmasked picks are O(1) and read no clock: the costs are
/// compared through their logarithms, where the common decay since the last report cancels out. Masked picks
/// rank-select the samples among the allowed candidates (O(n/64) word operations).
/// </remarks>
/// <typeparam name="TNode">The candidate type (only the count and indices are used).</typeparam>
/// <example>
/// <code>
/// var tracker = new PeakEwmaTracker(backends.Length);
/// var strategy = new PeakEwma&lt;Backend&gt;(tracker);
/// if (strategy.TrySelect(backends, SelectionContext.Empty, out int index)) { tracker.Begin(index); }
/// </code>
/// </example>
public sealed class PeakEwma<TNode> : ISelectionStrategy<TNode>
{
    private readonly PeakEwmaTracker _tracker;
    private readonly RandomSource _random;

    /// <summary>Creates the strategy.</summary>
    /// <param name="tracker">The latency state the caller reports into.</param>
    /// <param name="seed">Optional seed for reproducible single-threaded sequences.</param>
    /// <exception cref="ArgumentNullException"><paramref name="tracker"/> is null.</exception>
    /// <example><code>var strategy = new PeakEwma&lt;Backend&gt;(tracker, seed: 1);</code></example>
    public PeakEwma(PeakEwmaTracker tracker, ulong? seed = null)
    {
        ArgumentNullException.ThrowIfNull(tracker);
        _tracker = tracker;
        _random = new RandomSource(seed);
    }

    /// <summary>Gets the tracker.</summary>
    /// <example><code>strategy.Tracker.Report(index, latency);</code></example>
    public PeakEwmaTracker Tracker => _tracker;

    /// <inheritdoc/>
    public string Name => "PeakEwma";

    /// <inheritdoc/>
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index)
    {
        if (!TwoSamples.TryDraw(_random, candidates.Length, in context, out int first, out int second))
        {
            index = first;
            return index >= 0;
        }

        // Ranks order the two costs as the costs themselves would, without an exponential per pick.
        int takeSecond = _tracker.Rank(second) < _tracker.Rank(first) ? 1 : 0;
        index = first ^ ((first ^ second) & -takeSecond);
        return true;
    }
}
