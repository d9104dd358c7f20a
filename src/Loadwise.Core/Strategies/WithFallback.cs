namespace Loadwise;

/// <summary>
/// Tries <typeparamref name="TPrimary"/> and, only when it returns false, <typeparamref name="TFallback"/>. Nothing is
/// allocated.
/// </summary>
/// <remarks>
/// <para>The name is <c>"WithFallback(Primary,Fallback)"</c>, computed once.</para>
/// <para>
/// The calls are direct only where the caller holds this type itself (a field or local of type
/// <c>WithFallback&lt;...&gt;</c>): the JIT then inlines <see cref="TrySelect"/> into the caller, sees both sealed
/// strategy types and calls them directly, as fast as calling the primary alone, with or without dynamic PGO. Held as
/// <see cref="ISelectionStrategy{TNode}"/> (for example when the strategy is chosen from configuration), it runs the one
/// copy of code the runtime shares among reference-type strategies, which calls both through the interface after a
/// run-time lookup: then it is no faster than <see cref="FallbackChain{TNode}"/>, and slower without dynamic PGO (as in a
/// native AOT build). Measurements: bench/results/core-fallback.md.
/// </para>
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TPrimary">The strategy tried first.</typeparam>
/// <typeparam name="TFallback">The strategy used when the primary finds nothing.</typeparam>
/// <example>
/// <code>
/// var strategy = new WithFallback&lt;Backend, ConsistentHash&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;, RoundRobin&lt;Backend&gt;&gt;(
///     ConsistentHash.For&lt;Backend, string&gt;(), new RoundRobin&lt;Backend&gt;());
/// // Keyed requests stick by key; unkeyed ones are spread round robin.
/// </code>
/// </example>
public sealed class WithFallback<TNode, TPrimary, TFallback> : ISelectionStrategy<TNode>
    where TPrimary : ISelectionStrategy<TNode>
    where TFallback : ISelectionStrategy<TNode>
{
    private readonly TPrimary _primary;
    private readonly TFallback _fallback;

    /// <summary>Composes two strategies.</summary>
    /// <param name="primary">The strategy tried first.</param>
    /// <param name="fallback">The strategy used when <paramref name="primary"/> returns false.</param>
    /// <exception cref="ArgumentNullException">Either strategy is null.</exception>
    /// <example><code>var s = new WithFallback&lt;string, Random&lt;string&gt;, RoundRobin&lt;string&gt;&gt;(new(), new());</code></example>
    public WithFallback(TPrimary primary, TFallback fallback)
    {
        ArgumentNullException.ThrowIfNull(primary);
        ArgumentNullException.ThrowIfNull(fallback);
        _primary = primary;
        _fallback = fallback;
        Name = $"WithFallback({primary.Name},{fallback.Name})";
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>Gets the strategy tried first.</summary>
    /// <example><code>var primary = strategy.Primary;</code></example>
    public TPrimary Primary => _primary;

    /// <summary>Gets the strategy used when the primary finds nothing.</summary>
    /// <example><code>var fallback = strategy.Fallback;</code></example>
    public TFallback Fallback => _fallback;

    /// <inheritdoc/>
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index) =>
        _primary.TrySelect(candidates, in context, out index) || _fallback.TrySelect(candidates, in context, out index);
}

/// <summary>
/// Tries strategies in order, through <see cref="ISelectionStrategy{TNode}"/>, and returns the first pick. Use it when
/// the chain is decided at run time (for example from configuration); use
/// <see cref="WithFallback{TNode, TPrimary, TFallback}"/> when it is known at compile time.
/// </summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <example>
/// <code>
/// var chain = new FallbackChain&lt;Backend&gt;(ConsistentHash.For&lt;Backend, string&gt;(), LeastLoad.For&lt;Backend&gt;(), new RoundRobin&lt;Backend&gt;());
/// chain.TrySelect(backends, SelectionContext.Empty, out int index);
/// </code>
/// </example>
public sealed class FallbackChain<TNode> : ISelectionStrategy<TNode>
{
    private readonly ISelectionStrategy<TNode>[] _strategies;

    /// <summary>Creates a chain.</summary>
    /// <param name="strategies">At least one strategy, tried in order.</param>
    /// <exception cref="ArgumentException">The list is empty or holds a null.</exception>
    /// <example><code>var chain = new FallbackChain&lt;string&gt;(new Random&lt;string&gt;(), new RoundRobin&lt;string&gt;());</code></example>
    public FallbackChain(params ISelectionStrategy<TNode>[] strategies)
    {
        ArgumentNullException.ThrowIfNull(strategies);
        if (strategies.Length == 0)
        {
            throw new ArgumentException("A fallback chain needs at least one strategy.", nameof(strategies));
        }

        if (Array.IndexOf(strategies, null) is int nullAt and >= 0)
        {
            throw new ArgumentException($"strategies[{nullAt}] is null; pass only strategy instances.", nameof(strategies));
        }

        _strategies = (ISelectionStrategy<TNode>[])strategies.Clone();
        Name = $"FallbackChain({string.Join(',', _strategies.Select(static s => s.Name))})";
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>Gets the strategies in the order they are tried.</summary>
    /// <example><code>foreach (var s in chain.Strategies) Console.WriteLine(s.Name);</code></example>
    public IReadOnlyList<ISelectionStrategy<TNode>> Strategies => _strategies;

    /// <inheritdoc/>
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index)
    {
        foreach (ISelectionStrategy<TNode> strategy in _strategies)
        {
            if (strategy.TrySelect(candidates, in context, out index))
            {
                return true;
            }
        }

        index = -1;
        return false;
    }
}
