namespace Loadwise;

/// <summary>
/// Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, arXiv 1608.01350), with random jumps
/// (Chen et al., arXiv 1908.08762): no node takes more than <c>ceil(c x (total + 1) / n)</c>, where n is the number of
/// allowed candidates (a node takes a key while <c>load x n &lt; c x (total + 1)</c>, the same rule for whole loads). A key goes to its home node while that node is under the bound; when it is full, the key jumps
/// along its own probe sequence (<see cref="IHashPlacement{TNode}.Locate"/>) to the first node under the bound. Jumps
/// are independent positions, not the next node clockwise, so the overflow of a hot node spreads over the others
/// instead of cascading onto one neighbour.
/// </summary>
/// <remarks>
/// <para>
/// Works over any <see cref="IHashPlacement{TNode}"/>: <see cref="ConsistentHash{TNode, TId, TAccessor}"/> (the ring)
/// or <see cref="Maglev{TNode, TId, TAccessor}"/>. Loads come from <typeparamref name="TLoads"/>:
/// <see cref="InFlightLoads{TNode}"/> (O(1) total) or <see cref="AccessorLoads{TNode, TAccessor}"/> (any load accessor;
/// O(n) total). The bound is the same for every node, whatever its weight.
/// </para>
/// <para>
/// <b>Masks.</b> An excluded node is skipped like a full one. Its load still counts in the total, so while many loaded
/// nodes are excluded the bound is looser. After 32 jumps the least loaded allowed candidate is taken (first on ties).
/// Without a hash key there is no pick, as with the placement itself.
/// </para>
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TPlacement">The hashing placement.</typeparam>
/// <typeparam name="TLoads">Reads the loads.</typeparam>
/// <example>
/// <code>
/// var inFlight = new InFlightCounter(backends.Length);
/// var bounded = BoundedLoad.Over(Maglev.For&lt;Backend, string&gt;(), new InFlightLoads&lt;Backend&gt;(inFlight), balanceFactor: 1.25);
/// if (bounded.TrySelect(backends, SelectionContext.ForKey(userId), out int index)) { inFlight.Begin(index); }
/// </code>
/// </example>
public sealed class BoundedLoad<TNode, TPlacement, TLoads> : ISelectionStrategy<TNode>
    where TPlacement : IHashPlacement<TNode>
    where TLoads : ILoadReader<TNode>
{
    /// <summary>The default balance factor c.</summary>
    public const double DefaultBalanceFactor = 1.25;

    private readonly TPlacement _placement;
    private readonly TLoads _loads;

    /// <summary>Creates the strategy.</summary>
    /// <param name="placement">The ring or Maglev table that places keys.</param>
    /// <param name="loads">Reads the loads the bound applies to.</param>
    /// <param name="balanceFactor">c: how far above the average a node may go, 1.0 or more (default 1.25; 1.2 to 2.0 is typical).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="balanceFactor"/> is below 1.0, infinite or not a number.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="placement"/> is null.</exception>
    /// <example><code>var bounded = new BoundedLoad&lt;Backend, Ring, InFlightLoads&lt;Backend&gt;&gt;(ring, loads, 1.5);</code></example>
    public BoundedLoad(TPlacement placement, TLoads loads, double balanceFactor = DefaultBalanceFactor)
    {
        ArgumentNullException.ThrowIfNull(placement);
        if (!(balanceFactor >= 1.0) || double.IsInfinity(balanceFactor))
        {
            throw new ArgumentOutOfRangeException(nameof(balanceFactor), balanceFactor, "The balance factor c must be a finite number of 1.0 or more (1.25 is the default; 1.2 to 2.0 is typical).");
        }

        _placement = placement;
        _loads = loads;
        BalanceFactor = balanceFactor;
        Name = "Bounded" + placement.Name;
    }

    /// <summary>Gets the balance factor c.</summary>
    /// <example><code>double c = bounded.BalanceFactor; // 1.25</code></example>
    public double BalanceFactor { get; }

    /// <summary>Gets the placement.</summary>
    /// <example><code>var maglev = bounded.Placement;</code></example>
    public TPlacement Placement => _placement;

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index)
    {
        int count = candidates.Length;
        bool masked = context.ValidateMask(count);
        int allowed = masked ? context.Mask.CountAllowed() : count;
        if (allowed == 0 || !context.HasHashKey)
        {
            index = -1;
            return false;
        }

        // A node takes the key while load + 1 <= ceil(c x (total + 1) / n), which for whole loads is
        // load x n < c x (total + 1): no division on the pick path.
        ulong key = context.HashKeyValue;
        double capacity = BalanceFactor * (_loads.TotalLoad(candidates) + 1);
        for (int probe = 0; probe <= HashProbe.MaxJumps; probe++)
        {
            int owner = _placement.Locate(candidates, key, probe);
            if (owner < 0)
            {
                index = -1;
                return false;
            }

            if ((!masked || context.Mask.IsAllowed(owner)) && _loads.LoadOf(candidates, owner) * allowed < capacity)
            {
                index = owner;
                return true;
            }
        }

        index = LeastLoaded(candidates, context, masked);
        return index >= 0;
    }

    private int LeastLoaded(ReadOnlySpan<TNode> candidates, in SelectionContext context, bool masked)
    {
        int best = -1;
        double bestLoad = double.PositiveInfinity;
        for (int i = 0; i < candidates.Length; i++)
        {
            double load = _loads.LoadOf(candidates, i);
            if ((!masked || context.Mask.IsAllowed(i)) && load < bestLoad)
            {
                best = i;
                bestLoad = load;
            }
        }

        return best;
    }
}

/// <summary>Creates <see cref="BoundedLoad{TNode, TPlacement, TLoads}"/> over a ring or Maglev, with the type arguments inferred.</summary>
/// <example><code>var bounded = BoundedLoad.Over(ConsistentHash.For&lt;Backend, string&gt;(), new InFlightLoads&lt;Backend&gt;(inFlight));</code></example>
public static class BoundedLoad
{
    /// <summary>Bounds the loads of a Maglev placement.</summary>
    /// <typeparam name="TNode">The candidate type.</typeparam>
    /// <typeparam name="TId">The identity type.</typeparam>
    /// <typeparam name="TAccessor">The Maglev's identity and weight accessor.</typeparam>
    /// <typeparam name="TLoads">The load reader type.</typeparam>
    /// <param name="placement">The Maglev strategy.</param>
    /// <param name="loads">Reads the loads.</param>
    /// <param name="balanceFactor">c, 1.0 or more (default 1.25).</param>
    /// <returns>A new strategy.</returns>
    /// <example><code>var bounded = BoundedLoad.Over(Maglev.For&lt;Backend, string&gt;(), new InFlightLoads&lt;Backend&gt;(inFlight));</code></example>
    public static BoundedLoad<TNode, Maglev<TNode, TId, TAccessor>, TLoads> Over<TNode, TId, TAccessor, TLoads>(Maglev<TNode, TId, TAccessor> placement, TLoads loads, double balanceFactor = 1.25)
        where TId : IEquatable<TId>
        where TAccessor : INodeAccessor<TNode, TId>, IWeightAccessor<TNode>
        where TLoads : ILoadReader<TNode> => new(placement, loads, balanceFactor);

    /// <summary>Bounds the loads of a ring placement.</summary>
    /// <typeparam name="TNode">The candidate type.</typeparam>
    /// <typeparam name="TId">The identity type.</typeparam>
    /// <typeparam name="TAccessor">The ring's identity accessor.</typeparam>
    /// <typeparam name="TLoads">The load reader type.</typeparam>
    /// <param name="placement">The ring strategy.</param>
    /// <param name="loads">Reads the loads.</param>
    /// <param name="balanceFactor">c, 1.0 or more (default 1.25).</param>
    /// <returns>A new strategy.</returns>
    /// <example><code>var bounded = BoundedLoad.Over(ConsistentHash.For&lt;Backend, string&gt;(), new InFlightLoads&lt;Backend&gt;(inFlight), 1.5);</code></example>
    public static BoundedLoad<TNode, ConsistentHash<TNode, TId, TAccessor>, TLoads> Over<TNode, TId, TAccessor, TLoads>(ConsistentHash<TNode, TId, TAccessor> placement, TLoads loads, double balanceFactor = 1.25)
        where TId : IEquatable<TId>
        where TAccessor : INodeAccessor<TNode, TId>
        where TLoads : ILoadReader<TNode> => new(placement, loads, balanceFactor);
}
