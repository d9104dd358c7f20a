using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Slow start for any strategy, hashing included: a node that joins, or returns to Healthy from Recovering, takes a
/// growing part of its normal traffic over a window. Its ramp factor follows Envoy's formula,
/// <c>max(minPercent / 100, timeFactor^(1 / aggression))</c> with <c>timeFactor = elapsed / window</c>, and the filter
/// admits it to that fraction of the picks; the rest go to the other candidates, as the strategy would send them with
/// the node excluded. So under any strategy the node's share is the factor times the share it will have once warm.
/// </summary>
/// <remarks>
/// <para>
/// <b>Keyed picks</b> (a hash key is set) admit the node for a fixed set of keys: those whose hash with the node's id
/// falls below the factor. The set only grows as the factor grows, so a key that moved onto the warming node stays
/// there; the others go where the ring or Maglev sends them while the node is excluded (the next owner, or the key's
/// jump). <b>Unkeyed picks</b> admit it at random with probability equal to the factor.
/// </para>
/// <para>
/// Envoy scales the node's weight instead, which gives a share of <c>f w / (W - w + f w)</c> rather than <c>f w / W</c>
/// (W the total weight): the two agree within <c>w / W</c> of each other, and weighting does not exist for every
/// strategy (hashing, least load), so this filter scales the share. Start a ramp with <see cref="Start"/> (for example
/// when a node is added) or let <see cref="Follow"/> start one on every Recovering-to-Healthy change. A node is never
/// excluded when it is the only candidate left. While no node ramps, a pick costs one clock read; during a ramp
/// O(n x ramping nodes) id comparisons. Thread-safe; nothing is allocated per pick.
/// </para>
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TId">The identity type.</typeparam>
/// <typeparam name="TAccessor">Reads the identity.</typeparam>
/// <example>
/// <code>
/// var slowStart = new SlowStartFilter&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;(TimeSpan.FromSeconds(60));
/// slowStart.Follow(healthTracker);        // ramp on every Recovering -&gt; Healthy
/// slowStart.Start("10.0.0.9:8080");       // and on a node just added
/// Filter.TrySelect(backends, SelectionContext.Empty, slowStart, new RoundRobin&lt;Backend&gt;(), out int index);
/// </code>
/// </example>
public sealed class SlowStartFilter<TNode, TId, TAccessor> : ICandidateFilter<TNode>
    where TId : IEquatable<TId>
    where TAccessor : INodeAccessor<TNode, TId>
{
    private readonly TickClock _clock;
    private readonly long _windowTicks;
    private readonly double _inverseAggression;
    private readonly double _minFactor;
    private readonly RandomSource _random;
    private readonly Lock _gate = new();
    private Ramp[] _ramps = [];
    private long _lastRampEnds;

    /// <summary>Creates the filter.</summary>
    /// <param name="window">How long a ramp lasts, above zero (Envoy's <c>slow_start_window</c>).</param>
    /// <param name="aggression">Envoy's aggression, above zero (default 1.0, a linear ramp; larger ramps faster early).</param>
    /// <param name="minWeightPercent">The least share a ramping node gets, 0 to 100 (default 10).</param>
    /// <param name="timeProvider">The clock (default <see cref="TimeProvider.System"/>); tests pass a fake one.</param>
    /// <param name="seed">Optional seed for the unkeyed admissions, for reproducible tests.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of its range; the message names the fix.</exception>
    /// <example><code>var slowStart = new SlowStartFilter&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;(TimeSpan.FromSeconds(30), aggression: 2.0);</code></example>
    public SlowStartFilter(TimeSpan window, double aggression = 1.0, double minWeightPercent = 10, TimeProvider? timeProvider = null, ulong? seed = null)
    {
        if (window <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, "The slow-start window must be above zero, for example 30 or 60 seconds.");
        }

        if (!(aggression > 0) || double.IsInfinity(aggression))
        {
            throw new ArgumentOutOfRangeException(nameof(aggression), aggression, "Aggression must be a finite number above 0; 1.0 ramps linearly.");
        }

        if (!(minWeightPercent is >= 0 and <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(minWeightPercent), minWeightPercent, "The minimum weight must be 0 to 100 percent; 10 is the default.");
        }

        Window = window;
        Aggression = aggression;
        MinWeightPercent = minWeightPercent;
        _windowTicks = window.Ticks;
        _inverseAggression = 1 / aggression;
        _minFactor = minWeightPercent / 100;
        _clock = new TickClock(timeProvider ?? TimeProvider.System);
        _random = new RandomSource(seed);
    }

    /// <summary>Gets the ramp window.</summary>
    /// <example><code>TimeSpan window = slowStart.Window;</code></example>
    public TimeSpan Window { get; }

    /// <summary>Gets the aggression.</summary>
    /// <example><code>double aggression = slowStart.Aggression; // 1.0</code></example>
    public double Aggression { get; }

    /// <summary>Gets the minimum share, in percent.</summary>
    /// <example><code>double min = slowStart.MinWeightPercent; // 10</code></example>
    public double MinWeightPercent { get; }

    /// <summary>Starts (or restarts) the ramp of node <paramref name="id"/> now.</summary>
    /// <param name="id">The node's id.</param>
    /// <example><code>slowStart.Start("10.0.0.9:8080");</code></example>
    public void Start(TId id)
    {
        long now = _clock.Now();
        lock (_gate)
        {
            var ramps = new List<Ramp>(_ramps.Length + 1);
            foreach (Ramp ramp in _ramps)
            {
                if (now - ramp.Started < _windowTicks && !ramp.Id.Equals(id))
                {
                    ramps.Add(ramp);
                }
            }

            ramps.Add(new Ramp(id, now));
            Volatile.Write(ref _ramps, ramps.ToArray());
            Volatile.Write(ref _lastRampEnds, now + _windowTicks);
        }
    }

    /// <summary>Starts a ramp whenever <paramref name="tracker"/> reports a node going from Recovering to Healthy.</summary>
    /// <param name="tracker">The health tracker to follow.</param>
    /// <exception cref="ArgumentNullException"><paramref name="tracker"/> is null.</exception>
    /// <example><code>slowStart.Follow(healthTracker);</code></example>
    public void Follow(HealthTracker<TId> tracker)
    {
        ArgumentNullException.ThrowIfNull(tracker);
        tracker.HealthChanged += (_, change) =>
        {
            if (change.From == HealthStatus.Recovering && change.To == HealthStatus.Healthy)
            {
                Start(change.NodeId);
            }
        };
    }

    /// <summary>Gets the ramp factor of node <paramref name="id"/> now: 1 when it is not ramping.</summary>
    /// <param name="id">The node's id.</param>
    /// <returns>The factor, from the minimum to 1.</returns>
    /// <example><code>double factor = slowStart.Factor("10.0.0.9:8080"); // 0.1 .. 1</code></example>
    public double Factor(TId id)
    {
        long now = _clock.Now();
        foreach (Ramp ramp in Volatile.Read(ref _ramps))
        {
            if (ramp.Id.Equals(id))
            {
                return FactorAt(now - ramp.Started);
            }
        }

        return 1;
    }

    /// <inheritdoc/>
    public void Apply(ReadOnlySpan<TNode> candidates, in SelectionContext context, CandidateMask mask)
    {
        long now = _clock.Now();
        if (now >= Volatile.Read(ref _lastRampEnds))
        {
            return; // no ramp in progress
        }

        Ramp[] ramps = Volatile.Read(ref _ramps);
        for (int i = 0; i < candidates.Length; i++)
        {
            if (!mask.IsAllowed(i))
            {
                continue;
            }

            TId id = TAccessor.GetId(in candidates[i]);
            foreach (Ramp ramp in ramps)
            {
                if (!ramp.Id.Equals(id))
                {
                    continue;
                }

                double factor = FactorAt(now - ramp.Started);
                if (factor < 1 && !Admitted(in context, id, factor) && mask.CountAllowed() > 1)
                {
                    mask.Exclude(i);
                }

                break;
            }
        }
    }

    // A keyed pick admits a fixed, growing set of keys: those whose hash with the node's id is below the factor.
    private bool Admitted(in SelectionContext context, TId id, double factor)
    {
        ulong draw = context.HasHashKey ? StableHash.Combine(context.HashKeyValue, StableHash.OfId(id)) : _random.NextUInt64();
        return (draw >> 11) * (1.0 / (1UL << 53)) < factor;
    }

    private double FactorAt(long elapsedTicks)
    {
        if (elapsedTicks >= _windowTicks)
        {
            return 1;
        }

        double timeFactor = Math.Max(TimeSpan.TicksPerMillisecond, elapsedTicks) / (double)_windowTicks;
        double ramped = _inverseAggression == 1 ? timeFactor : Math.Pow(timeFactor, _inverseAggression);
        return Math.Max(_minFactor, ramped);
    }

    private readonly record struct Ramp(TId Id, long Started);
}
