using System.Runtime.CompilerServices;
using Loadwise.Internal;

namespace Loadwise;

/// <summary>Runs a filter and a strategy as one allocation-free call.</summary>
/// <example>
/// <code>
/// if (Filter.TrySelect(nodes, SelectionContext.Empty, healthFilter, strategy, out int index)) { /* nodes[index] */ }
/// </code>
/// </example>
public static class Filter
{
    /// <summary>
    /// Builds a mask on the stack (from the context's own mask when it has one, otherwise allowing everything), lets
    /// <paramref name="filter"/> narrow it, and asks <paramref name="strategy"/> to pick under it. Masks above 32,768
    /// candidates are rented from the array pool instead of the stack; nothing else is allocated.
    /// </summary>
    /// <typeparam name="TNode">The candidate type.</typeparam>
    /// <typeparam name="TFilter">The filter type.</typeparam>
    /// <typeparam name="TStrategy">The strategy type.</typeparam>
    /// <param name="candidates">The candidates.</param>
    /// <param name="context">The pick's context; its key, cost and tags pass through to the strategy.</param>
    /// <param name="filter">The filter.</param>
    /// <param name="strategy">The strategy.</param>
    /// <param name="index">The chosen index, or -1.</param>
    /// <returns>True when a candidate was chosen.</returns>
    /// <exception cref="ArgumentException">The context's mask covers a different number of candidates.</exception>
    /// <example><code>bool found = Filter.TrySelect(nodes, in context, filter, strategy, out int index);</code></example>
    [SkipLocalsInit]
    public static bool TrySelect<TNode, TFilter, TStrategy>(ReadOnlySpan<TNode> candidates, in SelectionContext context, TFilter filter, TStrategy strategy, out int index)
        where TFilter : ICandidateFilter<TNode>
        where TStrategy : ISelectionStrategy<TNode>
    {
        int count = candidates.Length;
        if (count == 0)
        {
            index = -1;
            return false;
        }

        bool masked = context.ValidateMask(count);
        int words = CandidateMask.WordsFor(count);
        ulong[]? rented = null;
        Span<ulong> storage = words <= ScratchMask.StackWords ? stackalloc ulong[words] : (rented = ScratchMask.Rent(words));
        var mask = new CandidateMask(storage, count, allowAll: !masked);
        if (masked)
        {
            context.Mask.CopyTo(mask);
        }

        filter.Apply(candidates, in context, mask);
        bool found;
        if (!masked && mask.CountAllowed() == count)
        {
            // Nothing was filtered out (the usual healthy pool): the strategy's unmasked path is cheaper (O(1) for
            // PowerOfTwoChoices instead of rank-selecting bits), and picks exactly the same way.
            found = strategy.TrySelect(candidates, in context, out index);
        }
        else
        {
            var filtered = new SelectionContext
            {
                HashKey = context.HasHashKey ? context.HashKeyValue : null,
                EstimatedCost = context.EstimatedCost,
                Tags = context.Tags,
                Mask = mask,
            };
            found = strategy.TrySelect(candidates, in filtered, out index);
        }

        ScratchMask.Return(rented);
        return found;
    }
}

/// <summary>Builds filters over <typeparamref name="TNode"/> with the type arguments inferred.</summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <example>
/// <code>
/// var filter = Filter&lt;Backend&gt;.AllOf(healthFilter, Filter&lt;Backend&gt;.Not(Filter&lt;Backend&gt;.Where(static b =&gt; b.Draining)));
/// </code>
/// </example>
public static class Filter<TNode>
{
    /// <summary>Keeps candidates that pass both filters.</summary>
    /// <typeparam name="TFirst">The first filter type.</typeparam>
    /// <typeparam name="TSecond">The second filter type.</typeparam>
    /// <param name="first">The first filter.</param>
    /// <param name="second">The second filter.</param>
    /// <returns>The combined filter.</returns>
    /// <example><code>var both = Filter&lt;Backend&gt;.AllOf(health, quota);</code></example>
    public static AllOf<TNode, TFirst, TSecond> AllOf<TFirst, TSecond>(TFirst first, TSecond second)
        where TFirst : ICandidateFilter<TNode>
        where TSecond : ICandidateFilter<TNode> => new(first, second);

    /// <summary>Keeps candidates that pass either filter.</summary>
    /// <typeparam name="TFirst">The first filter type.</typeparam>
    /// <typeparam name="TSecond">The second filter type.</typeparam>
    /// <param name="first">The first filter.</param>
    /// <param name="second">The second filter.</param>
    /// <returns>The combined filter.</returns>
    /// <example><code>var either = Filter&lt;Backend&gt;.AnyOf(inRegion, healthyOnly);</code></example>
    public static AnyOf<TNode, TFirst, TSecond> AnyOf<TFirst, TSecond>(TFirst first, TSecond second)
        where TFirst : ICandidateFilter<TNode>
        where TSecond : ICandidateFilter<TNode> => new(first, second);

    /// <summary>Keeps candidates that <paramref name="inner"/> rejects.</summary>
    /// <typeparam name="TInner">The inner filter type.</typeparam>
    /// <param name="inner">The filter to negate.</param>
    /// <returns>The negated filter.</returns>
    /// <example><code>var notDraining = Filter&lt;Backend&gt;.Not(draining);</code></example>
    public static Not<TNode, TInner> Not<TInner>(TInner inner)
        where TInner : ICandidateFilter<TNode> => new(inner);

    /// <summary>Keeps candidates for which <paramref name="predicate"/> returns true. Pass a <c>static</c> lambda.</summary>
    /// <param name="predicate">A non-capturing predicate.</param>
    /// <returns>The filter.</returns>
    /// <example><code>var eu = Filter&lt;Backend&gt;.Where(static b =&gt; b.Region == "eu");</code></example>
    public static PredicateFilter<TNode> Where(Func<TNode, bool> predicate) => new(predicate);

    /// <summary>Keeps candidates for which <typeparamref name="TPredicate"/> matches: no delegate at all.</summary>
    /// <typeparam name="TPredicate">The predicate struct.</typeparam>
    /// <returns>The filter.</returns>
    /// <example><code>var eu = Filter&lt;Backend&gt;.Where&lt;InEurope&gt;();</code></example>
    public static PredicateFilter<TNode, TPredicate> Where<TPredicate>()
        where TPredicate : INodePredicate<TNode> => default;
}
