using System.Runtime.CompilerServices;
using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// One node's quota usage inside a <see cref="QuotaTracker{TId}"/>: a stable handle that callers may keep (for example
/// in their node objects, to implement <see cref="IRemainingCapacity"/> and feed <see cref="MostAvailable{TNode, TAccessor}"/>).
/// </summary>
/// <remarks>
/// <para>
/// <b>Sliding windows, two buckets.</b> Each dimension keeps the total of the current fixed window and of the previous
/// one, and estimates the usage over the last window length as <c>previous × (1 − elapsed/window) + current</c>.
/// Fixed windows alone would let a node take twice its limit across a window boundary, which providers that enforce
/// rolling limits answer with 429s; an exact sliding log would keep every request. Two buckets cost O(1) memory and
/// time and are accurate to within the unevenness of the previous window.
/// </para>
/// <para>
/// <b>Threads.</b> Writers (charges, corrections, records) take a per-node lock; readers (<see cref="WouldAccept(double)"/>,
/// <see cref="RemainingRatio"/>, <see cref="QuotaFilter{TNode, TId, TAccessor}"/>) take none: a sequence counter tells
/// them when a writer overlapped, and they retry. Nothing allocates.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// public sealed record Provider(string Id, NodeQuota Quota) : INode&lt;string&gt;, IRemainingCapacity
/// {
///     public double RemainingRatio =&gt; Quota.RemainingRatio;
/// }
/// var providers = ids.Select(id =&gt; new Provider(id, quotas.GetHandle(id))).ToArray();
/// MostAvailable.For&lt;Provider&gt;().TrySelect(providers, SelectionContext.Empty, out int index);
/// </code>
/// </example>
public sealed class NodeQuota
{
    private readonly TickClock _clock;
    private readonly Lock _gate = new();
    private int _sequence;
    private QuotaDimension[] _dimensions;

    internal NodeQuota(IReadOnlyList<QuotaLimit> limits, TickClock clock)
    {
        _clock = clock;
        _dimensions = CreateDimensions(limits, null, clock.Now());
    }

    /// <summary>Gets the node's limits.</summary>
    /// <example><code>foreach (var limit in quota.Limits) Console.WriteLine(limit.Name);</code></example>
    public IReadOnlyList<QuotaLimit> Limits
    {
        get
        {
            QuotaDimension[] dimensions = Volatile.Read(ref _dimensions);
            var limits = new QuotaLimit[dimensions.Length];
            for (int i = 0; i < limits.Length; i++)
            {
                limits[i] = dimensions[i].Limit;
            }

            return limits;
        }
    }

    /// <summary>
    /// Gets the share of quota left in the most-used dimension: 1 when idle (or without limits), 0 when a dimension is
    /// used up. Lock-free and allocation-free.
    /// </summary>
    /// <example><code>double left = quota.RemainingRatio;</code></example>
    public double RemainingRatio
    {
        get
        {
            long now = _clock.Now();
            SpinWait spin = default;
            while (true)
            {
                int sequence = Volatile.Read(ref _sequence);
                if ((sequence & 1) == 0)
                {
                    QuotaDimension[] dimensions = Volatile.Read(ref _dimensions);
                    double ratio = 1;
                    foreach (QuotaDimension dimension in dimensions)
                    {
                        double left = (dimension.Capacity - dimension.Used(now)) / dimension.Capacity;
                        ratio = left < ratio ? left : ratio;
                    }

                    if (Volatile.Read(ref _sequence) == sequence)
                    {
                        return ratio > 0 ? ratio : 0;
                    }
                }

                spin.SpinOnce();
            }
        }
    }

    /// <summary>Returns whether a request of <paramref name="cost"/> fits every limit now (lock-free).</summary>
    /// <param name="cost">The request's estimated cost; NaN or negative counts as 0.</param>
    /// <returns>True when it fits.</returns>
    /// <example><code>if (quota.WouldAccept(promptTokens)) { /* ... */ }</code></example>
    public bool WouldAccept(double cost) => WouldAccept(SanitiseCost(cost), _clock.Now());

    /// <summary>Returns the usage of a dimension over the last window length (sliding estimate).</summary>
    /// <param name="dimension">The dimension's name.</param>
    /// <returns>The usage, or 0 when the node has no such dimension.</returns>
    /// <example><code>double tokens = quota.GetUsage("tokens");</code></example>
    public double GetUsage(string dimension)
    {
        lock (_gate)
        {
            QuotaDimension? found = Find(dimension);
            return found is null ? 0 : found.Used(_clock.Now());
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static double SanitiseCost(double cost) => cost > 0 ? cost : 0; // NaN and negatives charge nothing

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool WouldAccept(double cost, long now)
    {
        while (true)
        {
            int sequence = Volatile.Read(ref _sequence);
            if ((sequence & 1) == 0)
            {
                bool fits = Fits(Volatile.Read(ref _dimensions), cost, now);
                if (Volatile.Read(ref _sequence) == sequence)
                {
                    return fits;
                }
            }

            Thread.SpinWait(1);
        }
    }

    internal QuotaCharge Charge(double cost)
    {
        lock (_gate)
        {
            long now = _clock.Now();
            AddUnderLock(cost, now);
            return new QuotaCharge(this, cost, now);
        }
    }

    internal bool TryCharge(double cost, out QuotaCharge charge)
    {
        lock (_gate)
        {
            long now = _clock.Now();
            if (!Fits(_dimensions, cost, now))
            {
                charge = default;
                return false;
            }

            AddUnderLock(cost, now);
            charge = new QuotaCharge(this, cost, now);
            return true;
        }
    }

    internal void Correct(in QuotaCharge charge, double actualCost)
    {
        double delta = SanitiseCost(actualCost) - charge.EstimatedCost;
        if (delta == 0)
        {
            return;
        }

        lock (_gate)
        {
            long now = _clock.Now();
            BeginWrite();
            foreach (QuotaDimension dimension in _dimensions)
            {
                if (dimension.Unit == QuotaUnit.Cost)
                {
                    dimension.Roll(now);
                    dimension.AddAt(charge.ChargedAt, delta);
                }
            }

            EndWrite();
        }
    }

    internal bool Record(string dimension, double amount)
    {
        lock (_gate)
        {
            QuotaDimension? found = Find(dimension);
            if (found is null)
            {
                return false;
            }

            long now = _clock.Now();
            BeginWrite();
            found.Roll(now);
            found.AddAt(now, amount);
            EndWrite();
            return true;
        }
    }

    internal void SetLimits(IReadOnlyList<QuotaLimit> limits)
    {
        lock (_gate)
        {
            QuotaDimension[] replacement = CreateDimensions(limits, _dimensions, _clock.Now());
            BeginWrite();
            Volatile.Write(ref _dimensions, replacement);
            EndWrite();
        }
    }

    internal static void Validate(IReadOnlyList<QuotaLimit> limits, string paramName)
    {
        ArgumentNullException.ThrowIfNull(limits, paramName);
        for (int i = 0; i < limits.Count; i++)
        {
            if (limits[i] is null)
            {
                throw new ArgumentException($"{paramName}[{i}] is null; pass only QuotaLimit instances.", paramName);
            }

            for (int j = 0; j < i; j++)
            {
                if (string.Equals(limits[i].Name, limits[j].Name, StringComparison.Ordinal))
                {
                    throw new ArgumentException($"Quota dimension '{limits[i].Name}' appears twice in {paramName}; each name may be used once per node.", paramName);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Fits(QuotaDimension[] dimensions, double cost, long now)
    {
        foreach (QuotaDimension dimension in dimensions)
        {
            double used = dimension.Used(now);
            bool fits = dimension.Unit switch
            {
                QuotaUnit.Requests => used + 1 <= dimension.Capacity,
                QuotaUnit.Cost => used + cost <= dimension.Capacity,
                _ => used < dimension.Capacity,
            };
            if (!fits)
            {
                return false;
            }
        }

        return true;
    }

    private static QuotaDimension[] CreateDimensions(IReadOnlyList<QuotaLimit> limits, QuotaDimension[]? previous, long now)
    {
        var dimensions = new QuotaDimension[limits.Count];
        for (int i = 0; i < dimensions.Length; i++)
        {
            var dimension = new QuotaDimension(limits[i], now);
            if (previous is not null)
            {
                foreach (QuotaDimension old in previous)
                {
                    // Same name and window: keep the usage, so that changing a limit does not reset what was used.
                    if (old.Limit.Name == dimension.Limit.Name && old.WindowTicks == dimension.WindowTicks)
                    {
                        old.Roll(now);
                        dimension.CopyUsage(old);
                    }
                }
            }

            dimensions[i] = dimension;
        }

        return dimensions;
    }

    private QuotaDimension? Find(string name)
    {
        foreach (QuotaDimension dimension in _dimensions)
        {
            if (string.Equals(dimension.Limit.Name, name, StringComparison.Ordinal))
            {
                return dimension;
            }
        }

        return null;
    }

    private void AddUnderLock(double cost, long now)
    {
        BeginWrite();
        foreach (QuotaDimension dimension in _dimensions)
        {
            QuotaUnit unit = dimension.Unit;
            if (unit != QuotaUnit.Manual)
            {
                dimension.Roll(now);
                dimension.AddAt(now, unit == QuotaUnit.Requests ? 1 : cost);
            }
        }

        EndWrite();
    }

    // Sequence counter (a seqlock): odd while a writer is inside. The full fence of Interlocked keeps the odd value
    // ahead of the writes; the release of Volatile.Write keeps the writes ahead of the even value.
    private void BeginWrite() => Interlocked.Increment(ref _sequence);

    private void EndWrite() => Volatile.Write(ref _sequence, _sequence + 1);
}
