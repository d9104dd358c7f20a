namespace Loadwise;

/// <summary>
/// Reads candidate loads for strategies that compare a node with the average, such as
/// <see cref="BoundedLoad{TNode, TPlacement, TLoads}"/>: the load of one candidate and the total over all of them.
/// </summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <example>
/// <code>
/// ILoadReader&lt;Backend&gt; loads = new InFlightLoads&lt;Backend&gt;(inFlight);
/// double average = loads.TotalLoad(backends) / backends.Length;
/// </code>
/// </example>
public interface ILoadReader<TNode>
{
    /// <summary>Returns the load of candidate <paramref name="index"/> (in-flight requests or any non-negative measure).</summary>
    /// <param name="candidates">The candidates.</param>
    /// <param name="index">A candidate index.</param>
    /// <returns>The load.</returns>
    /// <example><code>double load = loads.LoadOf(nodes, 2);</code></example>
    double LoadOf(ReadOnlySpan<TNode> candidates, int index);

    /// <summary>Returns the total load over every candidate.</summary>
    /// <param name="candidates">The candidates.</param>
    /// <returns>The total.</returns>
    /// <example><code>double total = loads.TotalLoad(nodes);</code></example>
    double TotalLoad(ReadOnlySpan<TNode> candidates);
}

/// <summary>Loads from an <see cref="InFlightCounter"/>: O(1) for one node and for the total.</summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <param name="counter">The counter the caller brackets requests with.</param>
/// <example><code>var loads = new InFlightLoads&lt;Backend&gt;(new InFlightCounter(backends.Length));</code></example>
public readonly struct InFlightLoads<TNode>(InFlightCounter counter) : ILoadReader<TNode>
{
    /// <summary>Gets the counter.</summary>
    /// <example><code>loads.Counter.Begin(index);</code></example>
    public InFlightCounter Counter { get; } = counter ?? throw new ArgumentNullException(nameof(counter));

    /// <inheritdoc/>
    public double LoadOf(ReadOnlySpan<TNode> candidates, int index) => Counter[index];

    /// <inheritdoc/>
    public double TotalLoad(ReadOnlySpan<TNode> candidates) => Counter.Total;
}

/// <summary>
/// Loads read from the nodes through <typeparamref name="TAccessor"/>. The total is a pass over the candidates, so a
/// pick costs O(n); prefer <see cref="InFlightLoads{TNode}"/> on large sets. NaN and negative loads count as 0.
/// </summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TAccessor">Reads the load; see <see cref="LoadAccessor{TNode}"/>.</typeparam>
/// <example><code>var loads = default(AccessorLoads&lt;Backend, LoadAccessor&lt;Backend&gt;&gt;);</code></example>
public readonly struct AccessorLoads<TNode, TAccessor> : ILoadReader<TNode>
    where TAccessor : ILoadAccessor<TNode>
{
    /// <inheritdoc/>
    public double LoadOf(ReadOnlySpan<TNode> candidates, int index) => Clean(TAccessor.GetLoad(in candidates[index]));

    /// <inheritdoc/>
    public double TotalLoad(ReadOnlySpan<TNode> candidates)
    {
        double total = 0;
        for (int i = 0; i < candidates.Length; i++)
        {
            total += Clean(TAccessor.GetLoad(in candidates[i]));
        }

        return total;
    }

    private static double Clean(double load) => load > 0 ? load : 0;
}
