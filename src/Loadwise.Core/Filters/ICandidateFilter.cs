namespace Loadwise;

/// <summary>
/// Narrows a <see cref="CandidateMask"/>: clears the bits of candidates that must not be picked, and never sets one.
/// Filters run before a strategy (see <see cref="Filter.TrySelect"/> and
/// <see cref="FilteredStrategy{TNode, TFilter, TStrategy}"/>), which then sees the result through
/// <see cref="SelectionContext.Mask"/>. Implementations are thread-safe and allocate nothing per call.
/// </summary>
/// <remarks>
/// Combine filters with <see cref="AllOf{TNode, TFirst, TSecond}"/>, <see cref="AnyOf{TNode, TFirst, TSecond}"/> and
/// <see cref="Not{TNode, TInner}"/>. They are structs generic over their parts, so a composed filter is one type the
/// JIT specialises, with no interface call and no allocation per pick.
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <example>
/// <code>
/// public readonly struct EvenOnly : ICandidateFilter&lt;string&gt;
/// {
///     public void Apply(ReadOnlySpan&lt;string&gt; candidates, in SelectionContext context, CandidateMask mask)
///     {
///         for (int i = 1; i &lt; candidates.Length; i += 2) mask.Exclude(i);
///     }
/// }
/// </code>
/// </example>
public interface ICandidateFilter<TNode>
{
    /// <summary>Clears the bits of <paramref name="mask"/> whose candidates this filter rejects.</summary>
    /// <param name="candidates">The candidates; <paramref name="mask"/> covers exactly these.</param>
    /// <param name="context">The pick's context (cost, key, tags). Narrow <paramref name="mask"/>, not <c>context.Mask</c>.</param>
    /// <param name="mask">The mask to narrow; bits already clear stay clear.</param>
    /// <example><code>filter.Apply(nodes, in context, mask);</code></example>
    void Apply(ReadOnlySpan<TNode> candidates, in SelectionContext context, CandidateMask mask);
}

/// <summary>A node predicate read through a static abstract member: no delegate, no capture, inlined by the JIT.</summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <example>
/// <code>
/// public readonly struct InEurope : INodePredicate&lt;Backend&gt;
/// {
///     public static bool Matches(in Backend node) => node.Region.StartsWith("eu", StringComparison.Ordinal);
/// }
/// var filter = Filter&lt;Backend&gt;.Where&lt;InEurope&gt;();
/// </code>
/// </example>
public interface INodePredicate<TNode>
{
    /// <summary>Returns whether <paramref name="node"/> may be picked.</summary>
    /// <param name="node">The candidate.</param>
    /// <returns>True to keep it.</returns>
    /// <example><code>bool keep = InEurope.Matches(in backend);</code></example>
    static abstract bool Matches(in TNode node);
}
