using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Priority levels and backups, by Envoy's rules. Each pick goes to one level, drawn by the levels' loads; the mask is
/// narrowed to that level's available nodes, or to all its nodes when the level is in panic.
/// </summary>
/// <remarks>
/// <para>
/// <b>Loads.</b> A level's health is <c>min(100, floor(overprovisioning x 100 x available / total))</c> percent, with
/// Envoy's overprovisioning factor 1.4: priority 0 keeps all the traffic until fewer than 1/1.4 = 71.4% of its nodes
/// are available. Levels then take load in order, each as much as its health (scaled up to 100 in all when the sum of
/// health is below 100), and rounding leftovers go to the first level that takes any. Availability is what the
/// <typeparamref name="THealth"/> filter lets through.
/// </para>
/// <para>
/// <b>Panic</b> reuses <see cref="PanicFilter{TNode, TInner}"/> for the chosen level: while the normalized total
/// availability is 100, no level panics; below it, a level whose available share is under the panic threshold is
/// picked from among all its nodes. When nothing is available anywhere, the load follows the levels' node counts and
/// every level panics (with threshold 0: all load to the first level, and no pick). Panic picks and panic changes are
/// counted and raised by that <see cref="PanicFilter{TNode, TInner}"/>.
/// </para>
/// <para>
/// <b>Backups</b> (HAProxy's <c>backup</c>): levels at or above <c>backupLevel</c> get no load while any node below it
/// is available; when none is, the backup levels share the load among themselves by the same rules. Backups count in
/// the total availability that decides panic, so a few primaries up in front of healthy backups take the traffic
/// without panicking onto primaries that are down.
/// </para>
/// <para>
/// A keyed pick draws its level from its hash key, so a key stays in its level while the loads hold; an unkeyed pick
/// draws at random. A pick reads every candidate's level and runs the health filter twice (once for every level's
/// availability, once through the panic filter for the chosen level): O(n), no allocation below 32,768 candidates.
/// </para>
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TAccessor">Reads the level; see <see cref="PriorityAccessor{TNode}"/>.</typeparam>
/// <typeparam name="THealth">The filter that says which nodes are available.</typeparam>
/// <example>
/// <code>
/// var panic = new PanicFilter&lt;Backend, HealthFilter&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;&gt;(health, thresholdPercent: 50);
/// var priorities = new PriorityFilter&lt;Backend, PriorityAccessor&lt;Backend&gt;, HealthFilter&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;&gt;(panic);
/// Filter.TrySelect(backends, SelectionContext.Empty, priorities, new RoundRobin&lt;Backend&gt;(), out int index);
/// </code>
/// </example>
public sealed class PriorityFilter<TNode, TAccessor, THealth> : ICandidateFilter<TNode>
    where TAccessor : IPriorityAccessor<TNode>
    where THealth : ICandidateFilter<TNode>
{
    /// <summary>The number of levels: priorities run from 0 to 31.</summary>
    public const int MaxLevels = 32;

    private const ulong LevelSalt = 0x7072696F72697479UL;
    private readonly PanicFilter<TNode, THealth> _panic;
    private readonly long _overprovisioningPercent;
    private readonly int _backupLevel;
    private readonly RandomSource _random;

    /// <summary>Creates the filter.</summary>
    /// <param name="panic">The health filter, wrapped in the panic filter that carries the threshold (50% is Envoy's default; 0 disables panic).</param>
    /// <param name="overprovisioningFactor">Envoy's overprovisioning factor, 1.0 to 100 (default 1.4).</param>
    /// <param name="backupLevel">The first backup level, 1 to 32; 32 (the default) means no backups.</param>
    /// <param name="seed">Optional seed for the unkeyed level draws, for reproducible tests.</param>
    /// <exception cref="ArgumentNullException"><paramref name="panic"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A factor or level is out of range; the message names the fix.</exception>
    /// <example><code>var priorities = new PriorityFilter&lt;Backend, PriorityAccessor&lt;Backend&gt;, MyHealth&gt;(panic, overprovisioningFactor: 1.4, backupLevel: 1);</code></example>
    public PriorityFilter(PanicFilter<TNode, THealth> panic, double overprovisioningFactor = 1.4, int backupLevel = MaxLevels, ulong? seed = null)
    {
        ArgumentNullException.ThrowIfNull(panic);
        if (!(overprovisioningFactor is >= 1.0 and <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(overprovisioningFactor), overprovisioningFactor, "The overprovisioning factor must be 1.0 to 100; Envoy's default is 1.4.");
        }

        if (backupLevel is < 1 or > MaxLevels)
        {
            throw new ArgumentOutOfRangeException(nameof(backupLevel), backupLevel, $"The first backup level must be 1 to {MaxLevels - 1}, or {MaxLevels} for no backups.");
        }

        _panic = panic;
        _overprovisioningPercent = (long)Math.Round(overprovisioningFactor * 100);
        _backupLevel = backupLevel;
        _random = new RandomSource(seed);
        OverprovisioningFactor = overprovisioningFactor;
    }

    /// <summary>Gets the overprovisioning factor.</summary>
    /// <example><code>double factor = priorities.OverprovisioningFactor; // 1.4</code></example>
    public double OverprovisioningFactor { get; }

    /// <summary>Gets the panic filter (its threshold, panic-pick count and change event).</summary>
    /// <example><code>long panicked = priorities.Panic.PanicPicks;</code></example>
    public PanicFilter<TNode, THealth> Panic => _panic;

    /// <summary>
    /// Computes the share of traffic, in percent, that each level gets for these candidates and this mask, as picks do.
    /// </summary>
    /// <param name="candidates">The candidates.</param>
    /// <param name="context">The pick's context; its mask, if any, limits the candidates.</param>
    /// <param name="percentPerLevel">Receives each level's load in percent; at least <see cref="MaxLevels"/> long. They add up to 100, or to 0 with no candidate.</param>
    /// <returns>The normalized total availability, 0 to 100 (below 100, levels under the panic threshold panic).</returns>
    /// <exception cref="ArgumentException"><paramref name="percentPerLevel"/> is shorter than <see cref="MaxLevels"/>.</exception>
    /// <example><code>Span&lt;int&gt; loads = stackalloc int[32]; int availability = priorities.GetLoads(nodes, SelectionContext.Empty, loads);</code></example>
    public int GetLoads(ReadOnlySpan<TNode> candidates, in SelectionContext context, Span<int> percentPerLevel)
    {
        if (percentPerLevel.Length < MaxLevels)
        {
            throw new ArgumentException($"Pass a span of at least {MaxLevels} entries (PriorityFilter.MaxLevels).", nameof(percentPerLevel));
        }

        int count = candidates.Length;
        bool masked = context.ValidateMask(count);
        int words = CandidateMask.WordsFor(count);
        ulong[]? rented = null;
        Span<ulong> storage = words <= ScratchMask.StackWords ? stackalloc ulong[words] : (rented = ScratchMask.Rent(words));
        var mask = new CandidateMask(storage, count, allowAll: !masked);
        if (masked)
        {
            context.Mask.CopyTo(mask);
        }

        int availability = Loads(candidates, in context, mask, percentPerLevel);
        ScratchMask.Return(rented);
        return availability;
    }

    /// <inheritdoc/>
    public void Apply(ReadOnlySpan<TNode> candidates, in SelectionContext context, CandidateMask mask)
    {
        Span<int> loads = stackalloc int[MaxLevels];
        int availability = Loads(candidates, in context, mask, loads);
        double draw = (context.HasHashKey ? StableHash.Combine(context.HashKeyValue, LevelSalt) : _random.NextUInt64()) >> 11;
        draw *= 100.0 / (1UL << 53);
        int chosen = -1;
        int cumulative = 0;
        for (int level = 0; level < MaxLevels && chosen < 0; level++)
        {
            cumulative += loads[level];
            chosen = draw < cumulative ? level : -1;
        }

        foreach (int i in mask.AllowedIndices())
        {
            if (TAccessor.GetPriority(in candidates[i]) != chosen)
            {
                mask.Exclude(i);
            }
        }

        if (chosen < 0)
        {
            return; // no candidate at all
        }

        if (availability == 100)
        {
            _panic.Inner.Apply(candidates, in context, mask); // enough is available overall: no level panics
        }
        else
        {
            _panic.Apply(candidates, in context, mask);
        }
    }

    // Fills each level's load in percent and returns the normalized total availability.
    private int Loads(ReadOnlySpan<TNode> candidates, in SelectionContext context, CandidateMask mask, Span<int> loads)
    {
        Span<int> total = stackalloc int[MaxLevels];
        Span<int> available = stackalloc int[MaxLevels];
        loads[..MaxLevels].Clear();
        int words = mask.Words.Length;
        ulong[]? rented = null;
        Span<ulong> storage = words <= ScratchMask.StackWords ? stackalloc ulong[words] : (rented = ScratchMask.Rent(words));
        var healthy = new CandidateMask(storage, mask.Count, allowAll: false);
        mask.CopyTo(healthy);
        _panic.Inner.Apply(candidates, in context, healthy);
        foreach (int i in mask.AllowedIndices())
        {
            int level = TAccessor.GetPriority(in candidates[i]);
            if ((uint)level >= MaxLevels)
            {
                ScratchMask.Return(rented);
                throw new ArgumentOutOfRangeException(nameof(candidates), level, $"Candidate {i} has priority {level}; priorities must be 0 (primary) to {MaxLevels - 1}.");
            }

            total[level]++;
            available[level] += healthy.IsAllowed(i) ? 1 : 0;
        }

        ScratchMask.Return(rented);
        int primaryAvailable = 0, backupAvailable = 0, primaryTotal = 0;
        for (int level = 0; level < MaxLevels; level++)
        {
            primaryAvailable += level < _backupLevel ? available[level] : 0;
            backupAvailable += level >= _backupLevel ? available[level] : 0;
            primaryTotal += level < _backupLevel ? total[level] : 0;
        }

        // Backups count only when no primary node is available (or no primary exists).
        bool backups = primaryAvailable == 0 && (backupAvailable > 0 || primaryTotal == 0);
        int from = backups ? _backupLevel : 0, to = backups ? MaxLevels : _backupLevel;
        if (Distribute(total[from..to], available[from..to], loads[from..to]) == 0)
        {
            TotalPanic(total[from..to], loads[from..to]);
        }

        // Panic looks at the availability of every level, backups included: a few primaries up with backups behind
        // them is not a reason to send traffic to primaries that are down.
        int availability = 0;
        for (int level = 0; level < MaxLevels; level++)
        {
            availability += Health(total[level], available[level]);
        }

        return Math.Min(100, availability);
    }

    private int Health(int total, int available) => total == 0 ? 0 : (int)Math.Min(100, _overprovisioningPercent * available / total);

    private int Distribute(ReadOnlySpan<int> total, ReadOnlySpan<int> available, Span<int> loads)
    {
        Span<int> health = stackalloc int[total.Length];
        int sum = 0;
        for (int level = 0; level < total.Length; level++)
        {
            health[level] = Health(total[level], available[level]);
            sum += health[level];
        }

        int normalized = Math.Min(100, sum);
        if (normalized == 0)
        {
            return 0;
        }

        int remaining = 100, first = -1;
        for (int level = 0; level < total.Length; level++)
        {
            loads[level] = Math.Min(remaining, health[level] * 100 / normalized);
            remaining -= loads[level];
            first = first < 0 && loads[level] > 0 ? level : first;
        }

        loads[first] += remaining;
        return normalized;
    }

    // Nothing available: load by node count (all levels panic), or all to the first level when panic is disabled.
    private void TotalPanic(ReadOnlySpan<int> total, Span<int> loads)
    {
        int nodes = 0, first = -1;
        for (int level = 0; level < total.Length; level++)
        {
            nodes += total[level];
            first = first < 0 && total[level] > 0 ? level : first;
        }

        if (first < 0)
        {
            return; // no candidate
        }

        int assigned = 0;
        for (int level = 0; level < total.Length && _panic.ThresholdPercent > 0; level++)
        {
            loads[level] = 100 * total[level] / nodes;
            assigned += loads[level];
        }

        loads[first] += 100 - assigned;
    }
}
