using System.Runtime.CompilerServices;
using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Excludes nodes for which the pick's <see cref="SelectionContext.EstimatedCost"/> would exceed a quota: a
/// per-request dimension needs room for 1 more request, a cost dimension for the estimated cost, and a manual
/// dimension must not be used up. Usage exactly at a limit still fits (<c>used + cost &lt;= limit</c>).
/// </summary>
/// <remarks>
/// Candidate quota handles are cached per candidate set (verified in O(1) per pick), so a call is one clock read plus
/// a lock-free read of each allowed candidate's counters. The filter does not charge: call
/// <see cref="QuotaTracker{TId}.Charge(TId, in SelectionContext)"/> (or <see cref="QuotaTracker{TId}.TryCharge"/> to
/// close the race between two picks) for the chosen node.
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <typeparam name="TId">The node id type.</typeparam>
/// <typeparam name="TAccessor">Reads a candidate's id.</typeparam>
/// <example>
/// <code>
/// var quota = new QuotaFilter&lt;Provider, string, NodeAccessor&lt;Provider, string&gt;&gt;(quotas);
/// var context = new SelectionContext { EstimatedCost = promptTokens };
/// if (Filter.TrySelect(providers, in context, quota, MostAvailable.For&lt;Provider&gt;(), out int index))
///     quotas.Charge(providers[index].Id, in context);
/// </code>
/// </example>
public sealed class QuotaFilter<TNode, TId, TAccessor> : ICandidateFilter<TNode>
    where TId : notnull, IEquatable<TId>
    where TAccessor : INodeAccessor<TNode, TId>
{
    private readonly QuotaTracker<TId> _quotas;
    private CandidateBindings<TNode, TId, TAccessor, NodeQuota>? _bindings;

    /// <summary>Creates the filter.</summary>
    /// <param name="quotas">The tracker whose quotas decide.</param>
    /// <exception cref="ArgumentNullException"><paramref name="quotas"/> is null.</exception>
    /// <example><code>var filter = new QuotaFilter&lt;Provider, string, NodeAccessor&lt;Provider, string&gt;&gt;(quotas);</code></example>
    public QuotaFilter(QuotaTracker<TId> quotas)
    {
        ArgumentNullException.ThrowIfNull(quotas);
        _quotas = quotas;
    }

    /// <inheritdoc/>
    public void Apply(ReadOnlySpan<TNode> candidates, in SelectionContext context, CandidateMask mask)
    {
        FilterGuard.EnsureMatches(mask, candidates.Length);
        if (candidates.IsEmpty)
        {
            return;
        }

        CandidateBindings<TNode, TId, TAccessor, NodeQuota>? bindings = Volatile.Read(ref _bindings);
        if (bindings is null || !bindings.Matches(candidates, _quotas.Epoch))
        {
            bindings = Rebind(candidates);
        }

        NodeQuota[] handles = bindings.Handles;
        long now = _quotas.Clock.Now();
        double cost = NodeQuota.SanitiseCost(context.EstimatedCost);
        foreach (int i in mask.AllowedIndices())
        {
            if (!handles[i].WouldAccept(cost, now))
            {
                mask.Exclude(i);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private CandidateBindings<TNode, TId, TAccessor, NodeQuota> Rebind(ReadOnlySpan<TNode> candidates)
    {
        var bindings = CandidateBindings<TNode, TId, TAccessor, NodeQuota>.Build(candidates, _quotas);
        Volatile.Write(ref _bindings, bindings);
        return bindings;
    }
}
