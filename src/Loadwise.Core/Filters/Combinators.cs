using System.Runtime.CompilerServices;
using Loadwise.Internal;

namespace Loadwise;

/// <summary>Keeps candidates that pass both filters (logical AND): the second narrows what the first left.</summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TFirst">The first filter type.</typeparam>
/// <typeparam name="TSecond">The second filter type.</typeparam>
/// <example><code>var filter = new AllOf&lt;Backend, HealthFilter&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;, PredicateFilter&lt;Backend&gt;&gt;(health, eu);</code></example>
public readonly struct AllOf<TNode, TFirst, TSecond> : ICandidateFilter<TNode>
    where TFirst : ICandidateFilter<TNode>
    where TSecond : ICandidateFilter<TNode>
{
    private readonly TFirst _first;
    private readonly TSecond _second;

    /// <summary>Combines two filters.</summary>
    /// <param name="first">Applied first.</param>
    /// <param name="second">Applied second.</param>
    /// <exception cref="ArgumentNullException">A filter is null.</exception>
    /// <example><code>var both = new AllOf&lt;string, A, B&gt;(new A(), new B());</code></example>
    public AllOf(TFirst first, TSecond second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        _first = first;
        _second = second;
    }

    /// <inheritdoc/>
    public void Apply(ReadOnlySpan<TNode> candidates, in SelectionContext context, CandidateMask mask)
    {
        _first.Apply(candidates, in context, mask);
        _second.Apply(candidates, in context, mask);
    }
}

/// <summary>
/// Keeps candidates that pass either filter (logical OR). The first filter runs on a stack copy of the mask, the
/// second on the mask itself, and the two are united: <c>m ∧ (a ∨ b) = (m ∧ a) ∨ (m ∧ b)</c>.
/// </summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TFirst">The first filter type.</typeparam>
/// <typeparam name="TSecond">The second filter type.</typeparam>
/// <example><code>var either = Filter&lt;Backend&gt;.AnyOf(inRegion, lightlyLoaded);</code></example>
public readonly struct AnyOf<TNode, TFirst, TSecond> : ICandidateFilter<TNode>
    where TFirst : ICandidateFilter<TNode>
    where TSecond : ICandidateFilter<TNode>
{
    private readonly TFirst _first;
    private readonly TSecond _second;

    /// <summary>Combines two filters.</summary>
    /// <param name="first">One alternative.</param>
    /// <param name="second">The other alternative.</param>
    /// <exception cref="ArgumentNullException">A filter is null.</exception>
    /// <example><code>var either = new AnyOf&lt;string, A, B&gt;(new A(), new B());</code></example>
    public AnyOf(TFirst first, TSecond second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        _first = first;
        _second = second;
    }

    /// <inheritdoc/>
    [SkipLocalsInit]
    public void Apply(ReadOnlySpan<TNode> candidates, in SelectionContext context, CandidateMask mask)
    {
        int words = CandidateMask.WordsFor(mask.Count);
        ulong[]? rented = null;
        Span<ulong> storage = words <= ScratchMask.StackWords ? stackalloc ulong[words] : (rented = ScratchMask.Rent(words));
        var scratch = new CandidateMask(storage, mask.Count, allowAll: false);
        mask.CopyTo(scratch);
        _first.Apply(candidates, in context, scratch);
        _second.Apply(candidates, in context, mask);
        mask.UnionWith(scratch);
        ScratchMask.Return(rented);
    }
}

/// <summary>
/// Keeps candidates that the inner filter rejects (logical NOT, within what the mask already allows). The inner filter
/// runs on a stack copy of the mask; what it kept is then removed: <c>m ∧ ¬(m ∧ a) = m ∧ ¬a</c>.
/// </summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TInner">The filter to negate.</typeparam>
/// <example><code>var notCanary = Filter&lt;Backend&gt;.Not(Filter&lt;Backend&gt;.Where(static b =&gt; b.IsCanary));</code></example>
public readonly struct Not<TNode, TInner> : ICandidateFilter<TNode>
    where TInner : ICandidateFilter<TNode>
{
    private readonly TInner _inner;

    /// <summary>Negates a filter.</summary>
    /// <param name="inner">The filter to negate.</param>
    /// <exception cref="ArgumentNullException">The filter is null.</exception>
    /// <example><code>var not = new Not&lt;string, A&gt;(new A());</code></example>
    public Not(TInner inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
    }

    /// <inheritdoc/>
    [SkipLocalsInit]
    public void Apply(ReadOnlySpan<TNode> candidates, in SelectionContext context, CandidateMask mask)
    {
        int words = CandidateMask.WordsFor(mask.Count);
        ulong[]? rented = null;
        Span<ulong> storage = words <= ScratchMask.StackWords ? stackalloc ulong[words] : (rented = ScratchMask.Rent(words));
        var scratch = new CandidateMask(storage, mask.Count, allowAll: false);
        mask.CopyTo(scratch);
        _inner.Apply(candidates, in context, scratch);
        scratch.Invert();
        mask.IntersectWith(scratch);
        ScratchMask.Return(rented);
    }
}

/// <summary>
/// Keeps candidates for which a delegate returns true. Pass a <c>static</c> lambda: a capturing one allocates a closure
/// where it is created (once, not per pick), and a predicate should not depend on per-request state anyway; read that
/// from the context in a custom <see cref="ICandidateFilter{TNode}"/>.
/// </summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <example><code>var eu = new PredicateFilter&lt;Backend&gt;(static b =&gt; b.Region == "eu");</code></example>
public readonly struct PredicateFilter<TNode> : ICandidateFilter<TNode>
{
    private readonly Func<TNode, bool> _predicate;

    /// <summary>Creates the filter.</summary>
    /// <param name="predicate">A non-capturing predicate; true keeps the candidate.</param>
    /// <exception cref="ArgumentNullException"><paramref name="predicate"/> is null.</exception>
    /// <example><code>var f = new PredicateFilter&lt;string&gt;(static s =&gt; s.EndsWith(":443", StringComparison.Ordinal));</code></example>
    public PredicateFilter(Func<TNode, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        _predicate = predicate;
    }

    /// <inheritdoc/>
    public void Apply(ReadOnlySpan<TNode> candidates, in SelectionContext context, CandidateMask mask)
    {
        FilterGuard.EnsureMatches(mask, candidates.Length);
        foreach (int i in mask.AllowedIndices())
        {
            if (!_predicate(candidates[i]))
            {
                mask.Exclude(i);
            }
        }
    }
}

/// <summary>Keeps candidates for which <typeparamref name="TPredicate"/> matches; the check is inlined, with no delegate.</summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TPredicate">The predicate struct.</typeparam>
/// <example><code>var eu = new PredicateFilter&lt;Backend, InEurope&gt;();</code></example>
public readonly struct PredicateFilter<TNode, TPredicate> : ICandidateFilter<TNode>
    where TPredicate : INodePredicate<TNode>
{
    /// <inheritdoc/>
    public void Apply(ReadOnlySpan<TNode> candidates, in SelectionContext context, CandidateMask mask)
    {
        FilterGuard.EnsureMatches(mask, candidates.Length);
        foreach (int i in mask.AllowedIndices())
        {
            if (!TPredicate.Matches(in candidates[i]))
            {
                mask.Exclude(i);
            }
        }
    }
}
