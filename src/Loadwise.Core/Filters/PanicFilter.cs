using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// A filter that gives way when it would leave too few candidates: when the share that <typeparamref name="TInner"/>
/// lets through falls below the threshold, the pick is made among all the candidates it was given, as Envoy's panic
/// threshold does. An overloaded remainder is worse than some failures, and a client that can make backends look
/// unhealthy (errors it provokes, rate limits it trips) must not be able to take the whole service out.
/// </summary>
/// <remarks>
/// The share is the candidates the inner filter lets through over those it was given (a retry's mask already excludes
/// the nodes tried). A threshold of 0 never panics; 100 panics whenever the inner filter excludes anything.
/// <see cref="PanicChanged"/> is raised on entering and leaving panic (not per pick), on the picking thread.
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TInner">The filter that may give way (typically a <see cref="HealthFilter{TNode, TId, TAccessor}"/>).</typeparam>
/// <example>
/// <code>
/// var panic = new PanicFilter&lt;Backend, HealthFilter&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;&gt;(health, thresholdPercent: 50);
/// panic.PanicChanged += inPanic =&gt; Console.WriteLine(inPanic ? "panic: health ignored" : "recovered");
/// Filter.TrySelect(backends, SelectionContext.Empty, panic, new RoundRobin&lt;Backend&gt;(), out int index);
/// </code>
/// </example>
public sealed class PanicFilter<TNode, TInner> : ICandidateFilter<TNode>
    where TInner : ICandidateFilter<TNode>
{
    private readonly TInner _inner;
    private readonly double _threshold;
    private long _panicPicks;
    private int _inPanic;

    /// <summary>Creates the filter.</summary>
    /// <param name="inner">The filter that gives way below the threshold.</param>
    /// <param name="thresholdPercent">The share, from 0 to 100, below which the inner filter is ignored; 0 never panics.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="thresholdPercent"/> is outside 0..100 or not a number.</exception>
    /// <example><code>var panic = new PanicFilter&lt;Node, MyFilter&gt;(new MyFilter(), 50);</code></example>
    public PanicFilter(TInner inner, double thresholdPercent = 50)
    {
        if (!(thresholdPercent is >= 0 and <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(thresholdPercent), thresholdPercent, "Use a share from 0 (never panic) to 100.");
        }

        _inner = inner;
        _threshold = thresholdPercent;
    }

    /// <summary>Raised with true on entering panic and false on leaving it.</summary>
    public event Action<bool>? PanicChanged;

    /// <summary>Gets the filter that gives way.</summary>
    /// <example><code>HealthFilter&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt; health = panic.Inner;</code></example>
    public TInner Inner => _inner;

    /// <summary>Gets the threshold, in percent.</summary>
    /// <example><code>double threshold = panic.ThresholdPercent; // 50</code></example>
    public double ThresholdPercent => _threshold;

    /// <summary>Gets how many picks were made in panic, among all candidates.</summary>
    /// <example><code>long panicked = panic.PanicPicks;</code></example>
    public long PanicPicks => Volatile.Read(ref _panicPicks);

    /// <summary>Gets whether the last pick was made in panic.</summary>
    /// <example><code>if (panic.InPanic) { /* alert */ }</code></example>
    public bool InPanic => Volatile.Read(ref _inPanic) == 1;

    /// <inheritdoc/>
    public void Apply(ReadOnlySpan<TNode> candidates, in SelectionContext context, CandidateMask mask)
    {
        if (_threshold <= 0)
        {
            _inner.Apply(candidates, in context, mask);
            return;
        }

        int given = mask.CountAllowed();
        int words = mask.Words.Length;
        ulong[]? rented = null;
        Span<ulong> saved = words <= ScratchMask.StackWords ? stackalloc ulong[words] : (rented = ScratchMask.Rent(words)).AsSpan(0, words);
        try
        {
            mask.Words.CopyTo(saved);
            _inner.Apply(candidates, in context, mask);
            bool panic = given > 0 && mask.CountAllowed() * 100.0 < _threshold * given;
            if (panic)
            {
                // Back to what this filter was given: it never sets a bit that was clear on entry.
                for (int i = 0; i < mask.Count; i++)
                {
                    if ((saved[i >> 6] & (1UL << (i & 63))) != 0)
                    {
                        mask.Allow(i);
                    }
                }

                Interlocked.Increment(ref _panicPicks);
            }

            if ((_inPanic == 1) != panic && Interlocked.Exchange(ref _inPanic, panic ? 1 : 0) != (panic ? 1 : 0))
            {
                PanicChanged?.Invoke(panic);
            }
        }
        finally
        {
            ScratchMask.Return(rented);
        }
    }
}
