namespace Loadwise;

/// <summary>Describes one health status change, raised by <see cref="HealthTracker{TId}.HealthChanged"/>.</summary>
/// <typeparam name="TId">The node id type.</typeparam>
/// <example>
/// <code>
/// tracker.HealthChanged += (_, e) => logger.LogWarning("{Node}: {From} -> {To}", e.NodeId, e.From, e.To);
/// </code>
/// </example>
public sealed class HealthChangedEventArgs<TId> : EventArgs
{
    /// <summary>Creates the event data.</summary>
    /// <param name="nodeId">The node whose status changed.</param>
    /// <param name="from">The previous status.</param>
    /// <param name="to">The new status.</param>
    /// <param name="timestamp">When the change happened, from the tracker's clock.</param>
    /// <example><code>var e = new HealthChangedEventArgs&lt;string&gt;("a", HealthStatus.Healthy, HealthStatus.Degraded, DateTimeOffset.UtcNow);</code></example>
    public HealthChangedEventArgs(TId nodeId, HealthStatus from, HealthStatus to, DateTimeOffset timestamp)
    {
        NodeId = nodeId;
        From = from;
        To = to;
        Timestamp = timestamp;
    }

    /// <summary>Gets the node whose status changed.</summary>
    /// <example><code>var id = e.NodeId;</code></example>
    public TId NodeId { get; }

    /// <summary>Gets the previous status.</summary>
    /// <example><code>var from = e.From;</code></example>
    public HealthStatus From { get; }

    /// <summary>Gets the new status.</summary>
    /// <example><code>var to = e.To;</code></example>
    public HealthStatus To { get; }

    /// <summary>Gets when the change happened, from the tracker's clock.</summary>
    /// <example><code>var at = e.Timestamp;</code></example>
    public DateTimeOffset Timestamp { get; }
}
