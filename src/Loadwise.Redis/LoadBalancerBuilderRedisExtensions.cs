namespace Loadwise.Redis;

/// <summary>Shares a front-door balancer's health with every other instance on the same Redis.</summary>
/// <example><code>
/// await using var connection = RedisStateConnection.Connect(new RedisStateOptions { Configuration = "127.0.0.1:6379" });
/// await using SharedHealth&lt;string&gt; shared = await SharedHealth.StartAsync(connection);
/// LoadBalancer&lt;Api&gt; balancer = LoadBalancer.For&lt;Api&gt;().UsePowerOfTwoChoices().WithRedis(shared).Build(apis);
/// </code></example>
public static class LoadBalancerBuilderRedisExtensions
{
    /// <summary>
    /// Uses the shared tracker as the balancer's health: outcomes its leases report are written to Redis, and nodes any
    /// instance ejects (or a quorum, per <see cref="SharedHealthOptions.EjectQuorum"/>) are skipped here within about a
    /// second. Picks read only the local tracker and never wait on Redis; while Redis is out each instance keeps its own
    /// view. Quotas shared through Redis are charged with <see cref="SharedQuota{TId}"/> around the call, not in the pick.
    /// </summary>
    /// <typeparam name="TNode">The node type.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="shared">Shared health from <see cref="SharedHealth.StartAsync(RedisStateConnection, IHealthPolicy?, SharedHealthOptions?)"/>; its owner disposes it after the balancer.</param>
    /// <param name="requirement">Which health states may be picked.</param>
    /// <returns>The builder.</returns>
    /// <example><code>var builder = LoadBalancer.For&lt;Api&gt;().UseLeastLoad().WithRedis(shared, HealthRequirement.HealthyOnly);</code></example>
    public static LoadBalancerBuilder<TNode> WithRedis<TNode>(this LoadBalancerBuilder<TNode> builder, SharedHealth<string> shared, HealthRequirement requirement = HealthRequirement.Available)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(shared);
        return builder.WithHealth(shared.Tracker, requirement);
    }
}
