namespace Loadwise.Redis;

/// <summary>
/// The answer to <see cref="SharedQuota{TId}.TryChargeAsync"/>: whether the request was admitted, where that was decided,
/// and what <see cref="SharedQuota{TId}.CorrectAsync"/> needs to replace the estimated cost with the actual one.
/// </summary>
/// <example>
/// <code>
/// SharedQuotaCharge charge = await quotas.TryChargeAsync("openai", estimatedTokens);
/// if (charge.Admitted) { /* send, then: */ await quotas.CorrectAsync(charge, actualTokens); }
/// </code>
/// </example>
public readonly struct SharedQuotaCharge
{
    private readonly long[]? _windows;

    internal SharedQuotaCharge(bool admitted, QuotaChargeSource source, double cost, SharedNodeLimits? node, long[]? windows, QuotaCharge local)
    {
        Admitted = admitted;
        Source = source;
        EstimatedCost = cost;
        Node = node;
        _windows = windows;
        LocalCharge = local;
    }

    /// <summary>Gets whether the request fits every limit and was charged.</summary>
    /// <example><code>if (!charge.Admitted) return Results.StatusCode(429);</code></example>
    public bool Admitted { get; }

    /// <summary>Gets where the decision was made.</summary>
    /// <example><code>bool shared = charge.Source is QuotaChargeSource.Redis or QuotaChargeSource.Lease;</code></example>
    public QuotaChargeSource Source { get; }

    /// <summary>Gets the cost charged to cost dimensions.</summary>
    /// <example><code>double charged = charge.EstimatedCost;</code></example>
    public double EstimatedCost { get; }

    /// <summary>Gets the Redis window index each dimension was charged in (Redis time ÷ window), for a shared charge; null otherwise.</summary>
    /// <example><code>long window = charge.Windows![0];</code></example>
    public IReadOnlyList<long>? Windows => _windows;

    internal SharedNodeLimits? Node { get; }

    internal long[]? WindowIndices => _windows;

    internal QuotaCharge LocalCharge { get; }
}
