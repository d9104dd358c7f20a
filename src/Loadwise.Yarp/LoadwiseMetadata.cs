namespace Loadwise.Yarp;

/// <summary>
/// The metadata keys the Loadwise policies read: per destination (<c>DestinationConfig.Metadata</c>) the weight, the
/// priority and the backup flag; per cluster (<c>ClusterConfig.Metadata</c>) the hash key and the balance factor.
/// Values are checked when YARP loads the configuration: a bad value fails the load with a message naming the cluster,
/// the destination and the key, and an unknown key with the <c>Loadwise.</c> prefix is reported as a likely typo.
/// </summary>
/// <example>
/// <code>
/// "Destinations": {
///   "big":    { "Address": "http://10.0.0.1/", "Metadata": { "Loadwise.Weight": "3" } },
///   "small":  { "Address": "http://10.0.0.2/", "Metadata": { "Loadwise.Weight": "1" } },
///   "spare":  { "Address": "http://10.0.0.9/", "Metadata": { "Loadwise.Backup": "true" } }
/// }
/// </code>
/// </example>
public static class LoadwiseMetadata
{
    /// <summary>The largest accepted weight.</summary>
    public const int MaxWeight = 10_000;

    /// <summary>
    /// Destination key: a whole-number weight from 0 to <see cref="MaxWeight"/> (default 1). Weighted round robin and
    /// Maglev give a destination a share in proportion to it; 0 takes no traffic (a drain).
    /// </summary>
    /// <example><code>"Metadata": { "Loadwise.Weight": "3" }</code></example>
    public const string Weight = "Loadwise.Weight";

    /// <summary>
    /// Destination key: a priority level from 0 (the default, primaries) to 31. A pick goes to the lowest level that
    /// has an available destination; higher levels take no traffic until then.
    /// </summary>
    /// <example><code>"Metadata": { "Loadwise.Priority": "1" }</code></example>
    public const string Priority = "Loadwise.Priority";

    /// <summary>
    /// Destination key: <c>true</c> makes the destination a backup (priority 1 unless <see cref="Priority"/> says
    /// otherwise): it takes no traffic while any primary is available.
    /// </summary>
    /// <example><code>"Metadata": { "Loadwise.Backup": "true" }</code></example>
    public const string Backup = "Loadwise.Backup";

    /// <summary>
    /// Cluster key, required by the hashing policies: where the hash key comes from. <c>header:NAME</c> (first value
    /// of a request header), <c>cookie:NAME</c>, <c>query:NAME</c>, <c>route:NAME</c> (a route value such as
    /// <c>{id}</c>) or <c>ip</c> (the client address, IPv4-mapped IPv6 read as IPv4). A request without the key
    /// (absent or empty) is spread by weighted round robin over the same destinations.
    /// </summary>
    /// <example><code>"Metadata": { "Loadwise.HashKey": "header:X-Player" }</code></example>
    public const string HashKey = "Loadwise.HashKey";

    /// <summary>
    /// Cluster key for <see cref="LoadwisePolicies.BoundedLoad"/>: the balance factor c, a number of at least 1.0
    /// (default 1.25). No destination takes more than <c>ceil(c x (in flight + 1) / n)</c> requests at once.
    /// </summary>
    /// <example><code>"Metadata": { "Loadwise.BalanceFactor": "1.5" }</code></example>
    public const string BalanceFactor = "Loadwise.BalanceFactor";

    internal const string Prefix = "Loadwise.";
}
