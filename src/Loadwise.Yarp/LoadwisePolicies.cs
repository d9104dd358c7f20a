namespace Loadwise.Yarp;

/// <summary>
/// The names of the Loadwise load-balancing policies, as a cluster's <c>LoadBalancingPolicy</c> takes them. They share
/// the <c>Loadwise.</c> prefix so that they never collide with YARP's own names (<c>RoundRobin</c>,
/// <c>PowerOfTwoChoices</c>, ...) or with another library's.
/// </summary>
/// <remarks>
/// Every policy picks only among the destinations YARP passes as available (its health checks decide those), and
/// every policy honours the backup and priority metadata of <see cref="LoadwiseMetadata"/>.
/// </remarks>
/// <example>
/// <code>
/// "Clusters": { "api": { "LoadBalancingPolicy": "Loadwise.WeightedRoundRobin", "Destinations": { ... } } }
/// </code>
/// </example>
public static class LoadwisePolicies
{
    /// <summary>
    /// Smooth weighted round robin (nginx's): each destination takes <c>Loadwise.Weight</c> turns out of every
    /// <c>sum(weights)</c>, interleaved. Without weights it is plain round robin.
    /// </summary>
    /// <example><code>cluster.LoadBalancingPolicy = LoadwisePolicies.WeightedRoundRobin;</code></example>
    public const string WeightedRoundRobin = "Loadwise.WeightedRoundRobin";

    /// <summary>
    /// A consistent-hash ring (160 points per destination) over the key named by the cluster's <c>Loadwise.HashKey</c>:
    /// one key goes to one destination, and adding or removing a destination moves only about 1/n of the keys.
    /// Weights are not used; requests without the key are spread by weighted round robin.
    /// </summary>
    /// <example><code>cluster.LoadBalancingPolicy = LoadwisePolicies.ConsistentHash;</code></example>
    public const string ConsistentHash = "Loadwise.ConsistentHash";

    /// <summary>
    /// Maglev hashing over the key named by <c>Loadwise.HashKey</c>: a 65,537-entry table filled in proportion to the
    /// destinations' weights; an even (or weighted) spread and one table read per pick. Requests without the key are
    /// spread by weighted round robin.
    /// </summary>
    /// <example><code>cluster.LoadBalancingPolicy = LoadwisePolicies.Maglev;</code></example>
    public const string Maglev = "Loadwise.Maglev";

    /// <summary>
    /// Consistent hashing with bounded loads over the ring: a key stays on its destination while that destination has
    /// fewer than <c>Loadwise.BalanceFactor</c> (default 1.25) times the average requests in flight, and otherwise
    /// jumps to the first destination under the bound. Requests without the key are spread by weighted round robin.
    /// </summary>
    /// <example><code>cluster.LoadBalancingPolicy = LoadwisePolicies.BoundedLoad;</code></example>
    public const string BoundedLoad = "Loadwise.BoundedLoad";

    /// <summary>
    /// Power of two choices over peak-EWMA latency x (in flight + 1), as Finagle and Linkerd balance. Latency is
    /// reported by the <c>UseLoadwiseLatency()</c> step in the proxy pipeline; without it the policy only sees no
    /// latency at all and picks at random among two.
    /// </summary>
    /// <example><code>cluster.LoadBalancingPolicy = LoadwisePolicies.PeakEwma;</code></example>
    public const string PeakEwma = "Loadwise.PeakEwma";

    internal static readonly string[] All = [WeightedRoundRobin, ConsistentHash, Maglev, BoundedLoad, PeakEwma];
}
