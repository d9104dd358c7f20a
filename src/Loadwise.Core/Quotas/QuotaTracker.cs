using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Tracks each node's quota usage (requests per minute, tokens per minute, custom named dimensions with their own
/// windows) over sliding windows, for LLM and API routers that must stay under each provider's limits.
/// </summary>
/// <remarks>
/// <para>
/// Usage is charged at pick time from <see cref="SelectionContext.EstimatedCost"/> (<see cref="Charge(TId, in SelectionContext)"/>)
/// and corrected with the actual cost afterwards (<see cref="QuotaCharge.Correct"/>). <see cref="QuotaFilter{TNode, TId, TAccessor}"/>
/// excludes nodes the next request would push over a limit, and <see cref="NodeQuota.RemainingRatio"/> feeds
/// <see cref="MostAvailable{TNode, TAccessor}"/>. Windows slide (see <see cref="NodeQuota"/> for why).
/// </para>
/// <para>
/// Nodes get the default limits given to the constructor until <see cref="Configure"/> gives them their own; a node
/// with no limits is unlimited. Thread-safe; checks are lock-free and nothing on the pick path allocates.
/// </para>
/// </remarks>
/// <typeparam name="TId">The node id type.</typeparam>
/// <example>
/// <code>
/// var quotas = new QuotaTracker&lt;string&gt;([QuotaLimit.RequestsPerMinute(500), QuotaLimit.TokensPerMinute(200_000)]);
/// quotas.Configure("anthropic", [QuotaLimit.RequestsPerMinute(50), QuotaLimit.TokensPerMinute(40_000)]);
/// if (quotas.TryCharge("openai", estimatedTokens, out QuotaCharge charge))
/// {
///     // ... send, then:
///     charge.Correct(actualTokens);
/// }
/// </code>
/// </example>
public sealed class QuotaTracker<TId> : IHandleSource<TId, NodeQuota>
    where TId : notnull, IEquatable<TId>
{
    private readonly ConcurrentDictionary<TId, NodeQuota> _nodes = new();
    private readonly QuotaLimit[] _defaultLimits;
    private readonly TickClock _clock;
    private long _epoch;

    /// <summary>Creates a tracker.</summary>
    /// <param name="defaultLimits">Limits for nodes not given their own with <see cref="Configure"/>; null or empty for unlimited.</param>
    /// <param name="timeProvider">The clock; null for <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentException">A limit is null or two share a name.</exception>
    /// <example><code>var quotas = new QuotaTracker&lt;string&gt;([QuotaLimit.RequestsPerMinute(60)], fakeTime);</code></example>
    public QuotaTracker(IReadOnlyList<QuotaLimit>? defaultLimits = null, TimeProvider? timeProvider = null)
    {
        defaultLimits ??= [];
        NodeQuota.Validate(defaultLimits, nameof(defaultLimits));
        _defaultLimits = [.. defaultLimits];
        _clock = new TickClock(timeProvider ?? TimeProvider.System);
    }

    /// <summary>Gets the limits of nodes without their own.</summary>
    /// <example><code>int dimensions = quotas.DefaultLimits.Count;</code></example>
    public IReadOnlyList<QuotaLimit> DefaultLimits => _defaultLimits;

    long IHandleSource<TId, NodeQuota>.Epoch => Epoch;

    internal long Epoch => Volatile.Read(ref _epoch);

    internal TickClock Clock => _clock;

    /// <summary>Gives a node its own limits. Usage of dimensions that keep their name and window carries over.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="limits">Its limits; empty for unlimited.</param>
    /// <exception cref="ArgumentException">A limit is null or two share a name.</exception>
    /// <example><code>quotas.Configure("anthropic", [QuotaLimit.RequestsPerMinute(50)]);</code></example>
    public void Configure(TId nodeId, IReadOnlyList<QuotaLimit> limits)
    {
        NodeQuota.Validate(limits, nameof(limits));
        GetHandle(nodeId).SetLimits(limits);
    }

    /// <summary>Returns the node's quota handle, creating it (with the default limits) for a node never seen.</summary>
    /// <param name="nodeId">The node.</param>
    /// <returns>The stable handle (the same object until <see cref="Remove"/>).</returns>
    /// <example><code>NodeQuota quota = quotas.GetHandle("openai");</code></example>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public NodeQuota GetHandle(TId nodeId)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        return _nodes.TryGetValue(nodeId, out NodeQuota? node) ? node : AddNode(nodeId);
    }

    /// <summary>Returns whether a request of <paramref name="estimatedCost"/> fits the node's limits now (lock-free).</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="estimatedCost">The estimated cost; NaN or negative counts as 0.</param>
    /// <returns>True when it fits.</returns>
    /// <example><code>bool fits = quotas.CanAccept("openai", 1_200);</code></example>
    public bool CanAccept(TId nodeId, double estimatedCost) => GetHandle(nodeId).WouldAccept(NodeQuota.SanitiseCost(estimatedCost), _clock.Now());

    /// <summary>Charges a pick: 1 to request dimensions and <paramref name="estimatedCost"/> to cost dimensions.</summary>
    /// <param name="nodeId">The picked node.</param>
    /// <param name="estimatedCost">The estimated cost; NaN or negative counts as 0.</param>
    /// <returns>The receipt, for <see cref="QuotaCharge.Correct"/>.</returns>
    /// <example><code>QuotaCharge charge = quotas.Charge("openai", promptTokens + maxTokens);</code></example>
    public QuotaCharge Charge(TId nodeId, double estimatedCost) => GetHandle(nodeId).Charge(NodeQuota.SanitiseCost(estimatedCost));

    /// <summary>Charges a pick with the context's <see cref="SelectionContext.EstimatedCost"/>.</summary>
    /// <param name="nodeId">The picked node.</param>
    /// <param name="context">The pick's context.</param>
    /// <returns>The receipt, for <see cref="QuotaCharge.Correct"/>.</returns>
    /// <example><code>QuotaCharge charge = quotas.Charge(providers[index].Id, in context);</code></example>
    public QuotaCharge Charge(TId nodeId, in SelectionContext context) => Charge(nodeId, context.EstimatedCost);

    /// <summary>Charges a pick only if it fits every limit, atomically (two racing picks cannot both take the last room).</summary>
    /// <param name="nodeId">The picked node.</param>
    /// <param name="estimatedCost">The estimated cost; NaN or negative counts as 0.</param>
    /// <param name="charge">The receipt when charged; default otherwise.</param>
    /// <returns>True when charged.</returns>
    /// <example><code>if (!quotas.TryCharge(id, cost, out var charge)) { /* pick again without this node */ }</code></example>
    public bool TryCharge(TId nodeId, double estimatedCost, out QuotaCharge charge) =>
        GetHandle(nodeId).TryCharge(NodeQuota.SanitiseCost(estimatedCost), out charge);

    /// <summary>Replaces a charge's estimated cost with the actual cost (same as <see cref="QuotaCharge.Correct"/>).</summary>
    /// <param name="charge">The receipt from a charge.</param>
    /// <param name="actualCost">The actual cost.</param>
    /// <example><code>quotas.Correct(charge, response.Usage.TotalTokens);</code></example>
    public static void Correct(in QuotaCharge charge, double actualCost) => charge.Correct(actualCost);

    /// <summary>Adds <paramref name="amount"/> to one named dimension (any unit); negative amounts give quota back.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="dimension">The dimension's name.</param>
    /// <param name="amount">How much was used.</param>
    /// <returns>True when the node has that dimension.</returns>
    /// <example><code>quotas.Record("dall-e", "images", 4);</code></example>
    public bool Record(TId nodeId, string dimension, double amount)
    {
        ArgumentNullException.ThrowIfNull(dimension);
        return double.IsFinite(amount) && GetHandle(nodeId).Record(dimension, amount);
    }

    /// <summary>Returns the node's remaining ratio (see <see cref="NodeQuota.RemainingRatio"/>).</summary>
    /// <param name="nodeId">The node.</param>
    /// <returns>0..1; 1 for an idle or unlimited node.</returns>
    /// <example><code>double left = quotas.GetRemainingRatio("openai");</code></example>
    public double GetRemainingRatio(TId nodeId) => GetHandle(nodeId).RemainingRatio;

    /// <summary>Returns a dimension's usage over the last window length.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="dimension">The dimension's name.</param>
    /// <returns>The usage; 0 when the node has no such dimension.</returns>
    /// <example><code>double tokens = quotas.GetUsage("openai", QuotaLimit.TokensName);</code></example>
    public double GetUsage(TId nodeId, string dimension) => GetHandle(nodeId).GetUsage(dimension);

    /// <summary>Forgets a node and its usage.</summary>
    /// <param name="nodeId">The node.</param>
    /// <returns>True when the node was known.</returns>
    /// <example><code>quotas.Remove("retired-provider");</code></example>
    public bool Remove(TId nodeId)
    {
        bool removed = _nodes.TryRemove(nodeId, out _);
        if (removed)
        {
            Interlocked.Increment(ref _epoch);
        }

        return removed;
    }

    NodeQuota IHandleSource<TId, NodeQuota>.GetHandle(TId id) => GetHandle(id);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private NodeQuota AddNode(TId nodeId) =>
        _nodes.GetOrAdd(nodeId, static (_, tracker) => new NodeQuota(tracker._defaultLimits, tracker._clock), this);
}
