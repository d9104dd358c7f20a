using System.Runtime.CompilerServices;

namespace Loadwise;

/// <summary>
/// One request's hold on a node picked by a <see cref="LoadBalancer{TNode}"/>: while it lives, the node counts the
/// request in flight (the load that LeastLoad and PowerOfTwoChoices read when the node type has no load of its own).
/// Release it once, with <see cref="Dispose(Outcome)"/> to report how the request went, or with <see cref="Dispose()"/>
/// when there is nothing to report.
/// </summary>
/// <remarks>
/// A struct, so taking a lease allocates nothing. Releasing clears it, so a second release of the same variable does
/// nothing; a copy released separately would count twice, so pass it by reference (or keep one variable). Do not mix
/// <c>using var lease</c> with <see cref="Dispose(Outcome)"/>: a <c>using</c> variable is released at the end of its
/// scope anyway.
/// </remarks>
/// <typeparam name="TNode">The node type.</typeparam>
/// <example>
/// <code>
/// if (balancer.TryAcquire(SelectionContext.Empty, out NodeLease&lt;Backend&gt; lease))
/// {
///     try
///     {
///         await CallAsync(lease.Node);
///         lease.Dispose(Outcome.Success);
///     }
///     catch (HttpRequestException)
///     {
///         lease.Dispose(Outcome.Failure);
///         throw;
///     }
/// }
/// </code>
/// </example>
public struct NodeLease<TNode> : IDisposable
{
    private readonly TNode _node;
    private readonly QuotaCharge _charge;
    private LoadBalancer<TNode>? _owner;
    private NodeEntry? _entry;

    internal NodeLease(LoadBalancer<TNode> owner, NodeEntry entry, TNode node, int index, QuotaCharge charge)
    {
        _owner = owner;
        _entry = entry;
        _node = node;
        Index = index;
        _charge = charge;
    }

    /// <summary>Gets the picked node.</summary>
    /// <example><code>Uri target = lease.Node.Address;</code></example>
    public readonly TNode Node => _node;

    /// <summary>Gets the node's identity, as health and quota trackers key it; empty for a released or default lease.</summary>
    /// <example><code>Console.WriteLine(lease.NodeId);</code></example>
    public readonly string NodeId => _entry?.Id ?? string.Empty;

    /// <summary>Gets the node's index in the snapshot it was picked from (<see cref="LoadBalancer{TNode}.Nodes"/> at the time).</summary>
    /// <example><code>mask.Exclude(lease.Index); // retry elsewhere</code></example>
    public readonly int Index { get; }

    /// <summary>Gets whether the lease still holds its node (false once released, and for <c>default</c>).</summary>
    /// <example><code>if (lease.IsHeld) lease.Dispose();</code></example>
    public readonly bool IsHeld => _entry is not null;

    /// <summary>Gets the quota charge taken for the pick (a default charge when the balancer has no quotas).</summary>
    /// <example><code>double charged = lease.Charge.EstimatedCost;</code></example>
    public readonly QuotaCharge Charge => _charge;

    /// <summary>Replaces the estimated cost charged at pick time with the actual cost (for example tokens used).</summary>
    /// <param name="actualCost">The actual cost; NaN or negative counts as 0.</param>
    /// <example><code>lease.CorrectCost(usage.TotalTokens);</code></example>
    public readonly void CorrectCost(double actualCost) => _charge.Correct(actualCost);

    /// <summary>Releases the node without reporting an outcome (for example when the request was never sent).</summary>
    /// <example><code>using (balancer.Acquire(SelectionContext.Empty)) { /* work */ }</code></example>
    public void Dispose() => Release(null);

    /// <summary>Releases the node and reports how the request went: success, failure, or rate-limited with a retry-after.</summary>
    /// <param name="outcome">The outcome, fed to the balancer's health tracker and metrics.</param>
    /// <example><code>lease.Dispose(Outcome.RateLimited(TimeSpan.FromSeconds(20)));</code></example>
    public void Dispose(Outcome outcome) => Release(outcome);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Release(Outcome? outcome)
    {
        NodeEntry? entry = _entry;
        if (entry is null)
        {
            return;
        }

        _entry = null;
        LoadBalancer<TNode> owner = _owner!;
        _owner = null;
        owner.Release(entry, outcome);
    }
}
