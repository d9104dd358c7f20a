namespace Loadwise;

/// <summary>
/// A receipt for one charge against a node's quota: keep it until the actual cost is known, then
/// <see cref="Correct"/> it. It remembers when it was charged, so the correction lands in the window the charge did.
/// </summary>
/// <example>
/// <code>
/// QuotaCharge charge = quotas.Charge(provider.Id, in context);
/// var response = await SendAsync(provider, request);
/// charge.Correct(response.Usage.TotalTokens);
/// </code>
/// </example>
public readonly struct QuotaCharge
{
    internal QuotaCharge(NodeQuota node, double cost, long chargedAt)
    {
        Node = node;
        EstimatedCost = cost;
        ChargedAt = chargedAt;
    }

    /// <summary>Gets the charged node's quota, or null for a default (empty) receipt.</summary>
    /// <example><code>double left = charge.Node?.RemainingRatio ?? 1;</code></example>
    public NodeQuota? Node { get; }

    /// <summary>Gets the cost charged to the node's cost dimensions.</summary>
    /// <example><code>double charged = charge.EstimatedCost;</code></example>
    public double EstimatedCost { get; }

    internal long ChargedAt { get; }

    /// <summary>
    /// Replaces the estimated cost with the actual cost in the node's <see cref="QuotaUnit.Cost"/> dimensions. A
    /// correction for a window that has fully slid out is dropped. Correct each charge once.
    /// </summary>
    /// <param name="actualCost">The actual cost (for example the tokens the response reported); NaN or negative counts as 0.</param>
    /// <example><code>charge.Correct(actualTokens);</code></example>
    public void Correct(double actualCost) => Node?.Correct(this, actualCost);
}
