namespace Loadwise;

/// <summary>
/// The filters of one balancer snapshot, as one sealed filter: health, quotas and predicates, each optional. Made per
/// snapshot, so the health and quota filters bind to exactly that snapshot's nodes and never see another set.
/// </summary>
internal sealed class BalancerFilter<TNode> : ICandidateFilter<BalancerSlot<TNode>>
{
    private readonly HealthFilter<BalancerSlot<TNode>, string, SlotTraits<TNode>>? _health;
    private readonly QuotaFilter<BalancerSlot<TNode>, string, SlotTraits<TNode>>? _quotas;
    private readonly Func<TNode, bool>[] _predicates;

    public BalancerFilter(HealthTracker<string>? health, HealthRequirement requirement, QuotaTracker<string>? quotas, Func<TNode, bool>[] predicates)
    {
        _health = health is null ? null : new HealthFilter<BalancerSlot<TNode>, string, SlotTraits<TNode>>(health, requirement);
        _quotas = quotas is null ? null : new QuotaFilter<BalancerSlot<TNode>, string, SlotTraits<TNode>>(quotas);
        _predicates = predicates;
    }

    public bool IsEmpty => _health is null && _quotas is null && _predicates.Length == 0;

    public void Apply(ReadOnlySpan<BalancerSlot<TNode>> candidates, in SelectionContext context, CandidateMask mask)
    {
        _health?.Apply(candidates, in context, mask);
        _quotas?.Apply(candidates, in context, mask);
        foreach (Func<TNode, bool> predicate in _predicates)
        {
            foreach (int i in mask.AllowedIndices())
            {
                if (!predicate(candidates[i].Node))
                {
                    mask.Exclude(i);
                }
            }
        }
    }
}
