using System.Collections.Concurrent;
using System.Globalization;
using StackExchange.Redis;

namespace Loadwise.Redis;

/// <summary>
/// Quotas that every instance on the same Redis and key prefix shares: 500 requests per minute to a provider is 500 for
/// the fleet, not per instance. Each <see cref="TryChargeAsync"/> checks and charges every dimension of the node in one
/// Lua script, atomically, on Redis's clock; concurrent calls are pipelined on the shared connection.
/// </summary>
/// <remarks>
/// <para>
/// Limits and windows are those of <see cref="QuotaTracker{TId}"/> (<see cref="QuotaLimit"/>; the same two-bucket sliding
/// estimate), so no fixed window ever admits more than its limit. With <see cref="SharedQuotaOptions.LeaseFraction"/>
/// an instance leases a share of each limit and spends it locally (see there for the trade-off).
/// </para>
/// <para>
/// While Redis is out, or once a call has taken longer than <see cref="RedisStateOptions.OperationTimeout"/>, charges do
/// not wait for it: they follow <see cref="SharedQuotaOptions.OutagePolicy"/> (a local tracker at
/// <see cref="SharedQuotaOptions.LocalShare"/> of each limit, or deny) until a ping answers.
/// </para>
/// </remarks>
/// <typeparam name="TId">The node id type; its <see cref="object.ToString"/> names the node in Redis.</typeparam>
/// <example>
/// <code>
/// var quotas = new SharedQuota&lt;string&gt;(connection, [QuotaLimit.RequestsPerMinute(500), QuotaLimit.TokensPerMinute(200_000)]);
/// SharedQuotaCharge charge = await quotas.TryChargeAsync("openai", estimatedTokens);
/// if (charge.Admitted)
/// {
///     // ... send, then:
///     await quotas.CorrectAsync(charge, actualTokens);
/// }
/// </code>
/// </example>
public sealed class SharedQuota<TId>
    where TId : notnull, IEquatable<TId>
{
    private readonly RedisStateConnection _connection;
    private readonly SharedQuotaOptions _options;
    private readonly QuotaLimit[] _defaultLimits;
    private readonly ConcurrentDictionary<TId, SharedNodeLimits> _nodes = new();
    private readonly QuotaTracker<TId> _local;

    /// <summary>Creates the shared quotas.</summary>
    /// <param name="connection">The process's Redis connection.</param>
    /// <param name="defaultLimits">Limits for nodes not given their own with <see cref="Configure"/>; null or empty for unlimited.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">A limit is null, two share a name, or a setting is out of range.</exception>
    /// <example><code>var quotas = new SharedQuota&lt;string&gt;(connection, [QuotaLimit.RequestsPerMinute(1_000)]);</code></example>
    public SharedQuota(RedisStateConnection connection, IReadOnlyList<QuotaLimit>? defaultLimits = null, SharedQuotaOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        options ??= new SharedQuotaOptions();
        options.Validate();
        defaultLimits ??= [];
        _connection = connection;
        _options = options;
        _local = new QuotaTracker<TId>(Share(defaultLimits, options.LocalShare, nameof(defaultLimits)), connection.Options.TimeProvider);
        _defaultLimits = [.. defaultLimits];
    }

    /// <summary>Gets the limits of nodes without their own.</summary>
    /// <example><code>int dimensions = quotas.DefaultLimits.Count;</code></example>
    public IReadOnlyList<QuotaLimit> DefaultLimits => _defaultLimits;

    /// <summary>Gives a node its own limits (every instance must give it the same ones).</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="limits">Its limits; empty for unlimited.</param>
    /// <exception cref="ArgumentException">A limit is null or two share a name.</exception>
    /// <example><code>quotas.Configure("anthropic", [QuotaLimit.RequestsPerMinute(50)]);</code></example>
    public void Configure(TId nodeId, IReadOnlyList<QuotaLimit> limits)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        _local.Configure(nodeId, Share(limits, _options.LocalShare, nameof(limits)));
        _nodes[nodeId] = new SharedNodeLimits(nodeId.ToString() ?? "", [.. limits], _connection.Keys);
    }

    /// <summary>
    /// Checks that a request fits every limit of the node and charges it, atomically for the whole fleet: 1 to request
    /// dimensions and <paramref name="estimatedCost"/> to cost dimensions. Never throws for Redis errors and never waits
    /// on Redis while it is taken as out.
    /// </summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="estimatedCost">The estimated cost; NaN or negative counts as 0.</param>
    /// <returns>Whether it was admitted, and the receipt for <see cref="CorrectAsync"/>.</returns>
    /// <example><code>if (!(await quotas.TryChargeAsync(id, tokens)).Admitted) { /* try another provider */ }</code></example>
    public async ValueTask<SharedQuotaCharge> TryChargeAsync(TId nodeId, double estimatedCost)
    {
        double cost = estimatedCost > 0 ? estimatedCost : 0;
        SharedNodeLimits node = GetNode(nodeId);
        if (node.Limits.Length == 0)
        {
            return new SharedQuotaCharge(true, QuotaChargeSource.Redis, cost, null, null, default);
        }

        if (!_connection.IsAvailable)
        {
            return Fallback(nodeId, cost);
        }

        try
        {
            return _options.LeaseFraction > 0
                ? await ChargeFromLeaseAsync(node, cost).ConfigureAwait(false)
                : await ChargeInRedisAsync(node, cost).ConfigureAwait(false);
        }
        catch (Exception)
        {
            return Fallback(nodeId, cost); // counted and marked out by the connection
        }
    }

    /// <summary>
    /// Replaces a charge's estimated cost with the actual cost in the node's cost dimensions, in the window the charge
    /// landed in (dropped once that window has slid out, or while Redis is out). Never throws for Redis errors.
    /// </summary>
    /// <param name="charge">The receipt from <see cref="TryChargeAsync"/>.</param>
    /// <param name="actualCost">The actual cost; NaN or negative counts as 0.</param>
    /// <returns>A task that completes when corrected.</returns>
    /// <example><code>await quotas.CorrectAsync(charge, response.Usage.TotalTokens);</code></example>
    public async ValueTask CorrectAsync(SharedQuotaCharge charge, double actualCost)
    {
        double actual = actualCost > 0 ? actualCost : 0;
        if (!charge.Admitted)
        {
            return;
        }

        if (charge.Source == QuotaChargeSource.Local)
        {
            charge.LocalCharge.Correct(actual);
            return;
        }

        double delta = actual - charge.EstimatedCost;
        SharedNodeLimits? node = charge.Node;
        if (delta == 0 || node is null || charge.WindowIndices is null || !_connection.IsAvailable)
        {
            return;
        }

        var keys = new List<RedisKey>();
        var arguments = new List<RedisValue>();
        for (int i = 0; i < node.Limits.Length; i++)
        {
            if (node.Limits[i].Unit == QuotaUnit.Cost)
            {
                keys.Add(node.Keys[i]);
                arguments.Add(delta);
                arguments.Add(charge.WindowIndices[i]);
                arguments.Add(node.WindowMs[i]);
            }
        }

        if (keys.Count == 0)
        {
            return;
        }

        try
        {
            await _connection.CallAsync(_connection.Database.ScriptEvaluateAsync(QuotaScripts.Correct, [.. keys], [.. arguments]), "quota", node.Name).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Counted and marked out by the connection; a lost correction errs by the estimate's error.
        }
    }

    private async Task<SharedQuotaCharge> ChargeInRedisAsync(SharedNodeLimits node, double cost)
    {
        RedisValue[] arguments = node.Arguments(cost, leaseFraction: 0, give: null, giveWindows: null);
        RedisResult result = await _connection.CallAsync(_connection.Database.ScriptEvaluateAsync(QuotaScripts.Charge, node.Keys, arguments), "quota", node.Name).ConfigureAwait(false);
        ChargeReply reply = ChargeReply.Parse(result, node.Limits.Length);
        return new SharedQuotaCharge(reply.Admitted, QuotaChargeSource.Redis, cost, node, reply.Windows, default);
    }

    private async Task<SharedQuotaCharge> ChargeFromLeaseAsync(SharedNodeLimits node, double cost)
    {
        QuotaLease lease = node.Lease;
        TimeProvider time = _connection.Options.TimeProvider;
        if (lease.TryTake(node, cost, time.GetTimestamp(), out long[]? windows))
        {
            return new SharedQuotaCharge(true, QuotaChargeSource.Lease, cost, node, windows, default);
        }

        await lease.Renewal.WaitAsync().ConfigureAwait(false);
        try
        {
            // Another caller may have renewed while this one waited.
            if (lease.TryTake(node, cost, time.GetTimestamp(), out windows))
            {
                return new SharedQuotaCharge(true, QuotaChargeSource.Lease, cost, node, windows, default);
            }

            (double[]? give, long[]? giveWindows) = lease.Surrender();
            RedisValue[] arguments = node.Arguments(cost, _options.LeaseFraction, give, giveWindows);
            RedisResult result = await _connection.CallAsync(_connection.Database.ScriptEvaluateAsync(QuotaScripts.Charge, node.Keys, arguments), "quota", node.Name).ConfigureAwait(false);
            ChargeReply reply = ChargeReply.Parse(result, node.Limits.Length);
            if (reply.Admitted)
            {
                lease.Grant(node, cost, reply, time);
            }

            return new SharedQuotaCharge(reply.Admitted, QuotaChargeSource.Lease, cost, node, reply.Windows, default);
        }
        finally
        {
            lease.Renewal.Release();
        }
    }

    private SharedQuotaCharge Fallback(TId nodeId, double cost)
    {
        if (_options.OutagePolicy == QuotaOutagePolicy.FailClosed)
        {
            return new SharedQuotaCharge(false, QuotaChargeSource.None, cost, null, null, default);
        }

        bool admitted = _local.TryCharge(nodeId, cost, out QuotaCharge local);
        return new SharedQuotaCharge(admitted, QuotaChargeSource.Local, cost, null, null, local);
    }

    private SharedNodeLimits GetNode(TId nodeId)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        return _nodes.TryGetValue(nodeId, out SharedNodeLimits? node)
            ? node
            : _nodes.GetOrAdd(nodeId, static (id, quota) => new SharedNodeLimits(id.ToString() ?? "", quota._defaultLimits, quota._connection.Keys), this);
    }

    private static QuotaLimit[] Share(IReadOnlyList<QuotaLimit> limits, double share, string parameter)
    {
        ArgumentNullException.ThrowIfNull(limits, parameter);
        var shared = new QuotaLimit[limits.Count];
        for (int i = 0; i < shared.Length; i++)
        {
            QuotaLimit limit = limits[i] ?? throw new ArgumentException("A quota limit must not be null.", parameter);
            shared[i] = new QuotaLimit(limit.Name, limit.Limit * share, limit.Window, limit.Unit);
        }

        return shared;
    }
}

/// <summary>The reply of <see cref="QuotaScripts.Charge"/>.</summary>
internal readonly record struct ChargeReply(bool Admitted, long RedisMilliseconds, long[] Windows, double[] Taken)
{
    public static ChargeReply Parse(RedisResult result, int dimensions)
    {
        var items = (RedisResult[])result!;
        var windows = new long[dimensions];
        var taken = new double[dimensions];
        for (int i = 0; i < dimensions; i++)
        {
            windows[i] = (long)items[2 + (2 * i)];
            taken[i] = double.Parse((string)items[3 + (2 * i)]!, NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        return new ChargeReply((long)items[0] == 1, (long)items[1], windows, taken);
    }
}
