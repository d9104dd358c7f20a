using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.Router;

/// <summary>
/// The candidates a pick chooses among, narrowed in order: health (Core's health filter with the panic threshold), or
/// priority levels and backups when any backend has a level (Core's priority filter, which runs that same health and
/// panic filter per level), then slow start, which admits a ramping backend to a growing share of the picks. A struct
/// over Core's concrete filters: the router's pick stays one generic call with no interface dispatch, and a part that
/// is not configured costs one null check.
/// </summary>
/// <example><code>
/// var filter = new RoutingFilter(health.Filter, priorities: null, slowStart: null);
/// Filter.TrySelect(nodes, SelectionContext.Empty, filter, strategy, out int index);
/// </code></example>
internal readonly struct RoutingFilter(
    PanicFilter<BackendNode, HealthFilter<BackendNode, string, NodeAccessor<BackendNode, string>>> health,
    PriorityFilter<BackendNode, PriorityAccessor<BackendNode>, HealthFilter<BackendNode, string, NodeAccessor<BackendNode, string>>>? priorities,
    SlowStartFilter<BackendNode, string, NodeAccessor<BackendNode, string>>? slowStart) : ICandidateFilter<BackendNode>
{
    /// <summary>Gets the health filter and its panic counts (shared with the priority filter, which panics through it).</summary>
    public PanicFilter<BackendNode, HealthFilter<BackendNode, string, NodeAccessor<BackendNode, string>>> Health { get; } = health;

    /// <summary>Gets the priority filter, or null when every backend is a level-0 primary.</summary>
    public PriorityFilter<BackendNode, PriorityAccessor<BackendNode>, HealthFilter<BackendNode, string, NodeAccessor<BackendNode, string>>>? Priorities { get; } = priorities;

    /// <summary>Gets the slow-start filter, or null when <c>SlowStart:WindowMs</c> is 0.</summary>
    public SlowStartFilter<BackendNode, string, NodeAccessor<BackendNode, string>>? SlowStart { get; } = slowStart;

    /// <inheritdoc/>
    public void Apply(ReadOnlySpan<BackendNode> candidates, in SelectionContext context, CandidateMask mask)
    {
        if (Priorities is { } priorities)
        {
            priorities.Apply(candidates, in context, mask);
        }
        else
        {
            Health.Apply(candidates, in context, mask);
        }

        SlowStart?.Apply(candidates, in context, mask);
    }
}

/// <summary>
/// Makes the slow-start filter of a configuration and starts its ramps: on every change of a backend to Healthy from
/// Recovering or Unhealthy, and for the backends a reload adds. A ramp under way survives a reload that leaves the
/// <c>SlowStart</c> section as it was: the filter is kept.
/// </summary>
/// <example><code>
/// var slowStart = SlowStartRamps.Create(options.SlowStart, time, kept: previousFilter);
/// SlowStartRamps.Follow(slowStart, health.Tracker);
/// </code></example>
internal static class SlowStartRamps
{
    /// <summary>Creates the filter of <paramref name="options"/> (null when the window is 0), or keeps <paramref name="kept"/> when its settings are the same.</summary>
    public static SlowStartFilter<BackendNode, string, NodeAccessor<BackendNode, string>>? Create(
        SlowStartOptions options, TimeProvider time, SlowStartFilter<BackendNode, string, NodeAccessor<BackendNode, string>>? kept)
    {
        if (options.WindowMs == 0)
        {
            return null;
        }

        TimeSpan window = TimeSpan.FromMilliseconds(options.WindowMs);
        if (kept is not null && kept.Window == window && kept.Aggression == options.Aggression && kept.MinWeightPercent == options.MinWeightPercent)
        {
            return kept;
        }

        return new SlowStartFilter<BackendNode, string, NodeAccessor<BackendNode, string>>(window, options.Aggression, options.MinWeightPercent, time);
    }

    /// <summary>Starts a ramp whenever <paramref name="tracker"/> reports a backend becoming Healthy after Recovering or Unhealthy.</summary>
    public static void Follow(SlowStartFilter<BackendNode, string, NodeAccessor<BackendNode, string>> slowStart, HealthTracker<string> tracker) =>
        tracker.HealthChanged += (_, change) =>
        {
            if (change.To == HealthStatus.Healthy && change.From is HealthStatus.Recovering or HealthStatus.Unhealthy)
            {
                slowStart.Start(change.NodeId);
            }
        };
}
