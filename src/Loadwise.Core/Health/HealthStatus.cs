namespace Loadwise;

/// <summary>A node's health, as decided by an <see cref="IHealthPolicy"/> from the outcomes reported to a <see cref="HealthTracker{TId}"/>.</summary>
/// <remarks>
/// <see cref="Healthy"/>, <see cref="Degraded"/> and <see cref="Recovering"/> nodes take traffic ("available");
/// <see cref="Unhealthy"/> nodes take none and are only probed. A node the tracker has never seen is Healthy.
/// </remarks>
/// <example>
/// <code>
/// if (tracker.GetStatus("10.0.0.1:80") == HealthStatus.Unhealthy) { /* skip it */ }
/// </code>
/// </example>
public enum HealthStatus
{
    /// <summary>Working normally (also the status of a node never reported on).</summary>
    Healthy = 0,

    /// <summary>Failing, but not yet often enough to be taken out of rotation.</summary>
    Degraded = 1,

    /// <summary>Out of rotation; only probes reach it until one succeeds.</summary>
    Unhealthy = 2,

    /// <summary>Back in rotation after a successful probe, on probation until enough successes follow.</summary>
    Recovering = 3,
}

/// <summary>
/// The one spelling of each <see cref="HealthStatus"/> that metrics, logs and configuration use: lower case,
/// <c>healthy</c>, <c>degraded</c>, <c>unhealthy</c>, <c>recovering</c>.
/// </summary>
/// <example>
/// <code>
/// string state = tracker.GetStatus(id).ToName(); // "unhealthy"
/// </code>
/// </example>
public static class HealthStatusNames
{
    private static readonly string[] Names = ["healthy", "degraded", "unhealthy", "recovering"];

    /// <summary>Gets every status name, indexed by the status's value (<c>All[(int)HealthStatus.Unhealthy]</c> is <c>"unhealthy"</c>).</summary>
    /// <example><code>foreach (string state in HealthStatusNames.All) gauge.Add(0, new("state", state));</code></example>
    public static IReadOnlyList<string> All { get; } = Array.AsReadOnly(Names);

    /// <summary>Returns the status's lower-case name.</summary>
    /// <param name="status">A defined status.</param>
    /// <returns>The name, e.g. <c>"recovering"</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="status"/> is not a defined <see cref="HealthStatus"/>.</exception>
    /// <example><code>logger.LogWarning("{Node} is {State}", id, status.ToName());</code></example>
    public static string ToName(this HealthStatus status) =>
        (uint)status < (uint)Names.Length
            ? Names[(int)status]
            : throw new ArgumentOutOfRangeException(nameof(status), status, "Not a defined HealthStatus; use Healthy, Degraded, Unhealthy or Recovering.");
}

/// <summary>How many nodes a tracker holds in each <see cref="HealthStatus"/>.</summary>
/// <param name="Healthy">Nodes that are Healthy.</param>
/// <param name="Degraded">Nodes that are Degraded.</param>
/// <param name="Unhealthy">Nodes that are Unhealthy.</param>
/// <param name="Recovering">Nodes that are Recovering.</param>
/// <example>
/// <code>
/// HealthStatusCounts counts = tracker.CountByStatus();
/// Console.WriteLine($"{counts.Unhealthy} of {counts.Total} nodes are out");
/// </code>
/// </example>
public readonly record struct HealthStatusCounts(int Healthy, int Degraded, int Unhealthy, int Recovering)
{
    /// <summary>Gets the number of nodes in all statuses.</summary>
    /// <example><code>int total = counts.Total;</code></example>
    public int Total => Healthy + Degraded + Unhealthy + Recovering;

    /// <summary>Gets the number of nodes in <paramref name="status"/>.</summary>
    /// <param name="status">The status to count.</param>
    /// <returns>The count.</returns>
    /// <example><code>int down = counts[HealthStatus.Unhealthy];</code></example>
    public int this[HealthStatus status] => status switch
    {
        HealthStatus.Healthy => Healthy,
        HealthStatus.Degraded => Degraded,
        HealthStatus.Unhealthy => Unhealthy,
        HealthStatus.Recovering => Recovering,
        _ => 0,
    };
}

/// <summary>Which nodes a <see cref="HealthFilter{TNode, TId, TAccessor}"/> lets through.</summary>
/// <example><code>var filter = new HealthFilter&lt;Backend, string, NodeAccessor&lt;Backend, string&gt;&gt;(tracker, HealthRequirement.HealthyOnly);</code></example>
public enum HealthRequirement
{
    /// <summary>Everything except Unhealthy and rate-limited nodes (Healthy, Degraded and Recovering pass).</summary>
    Available = 0,

    /// <summary>Only Healthy nodes that are not rate-limited.</summary>
    HealthyOnly = 1,
}
