using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Loadwise.Yarp;

/// <summary>
/// <see cref="LoadwisePolicies.PeakEwma"/>: Core's peak-EWMA power of two choices. Each destination set has its own
/// <see cref="PeakEwmaTracker"/>; <see cref="LatencyMiddleware"/> brackets every forwarded request with
/// <see cref="TryBegin"/> and a report, so a set replaced by a configuration change starts unmeasured while requests
/// begun on the old one still report to the old one.
/// </summary>
internal sealed class PeakEwmaPolicy : ILoadBalancingPolicy
{
    private readonly ClusterPicker<PeakEwma<DestinationNode>> _picker;
    private readonly ILogger _logger;
    private readonly HashSet<string> _warned = new(StringComparer.OrdinalIgnoreCase);

    public PeakEwmaPolicy(ILogger<PeakEwmaPolicy> logger, TimeProvider timeProvider)
    {
        _logger = logger;
        _picker = new(set => new PeakEwma<DestinationNode>(new PeakEwmaTracker(set.Nodes.Length, timeProvider: timeProvider)), keyed: false, logger);
    }

    public string Name => LoadwisePolicies.PeakEwma;

    /// <summary>Gets or sets whether a <see cref="LatencyMiddleware"/> was built into a proxy pipeline of this application.</summary>
    public bool LatencyReported { get; set; }

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations)
    {
        if (!LatencyReported)
        {
            WarnOnce(cluster.ClusterId);
        }

        return _picker.Pick(context, cluster, availableDestinations);
    }

    /// <summary>Counts a request sent to <paramref name="destination"/>; false when the destination is not in the cluster's set.</summary>
    public bool TryBegin(ClusterState cluster, DestinationState destination, out PeakEwmaTracker? tracker, out int index)
    {
        (DestinationSet set, PeakEwma<DestinationNode> strategy) = _picker.Current(cluster);
        if (!set.TryGetIndex(destination, out index))
        {
            tracker = null;
            return false;
        }

        tracker = strategy.Tracker;
        tracker.Begin(index);
        return true;
    }

    private void WarnOnce(string clusterId)
    {
        lock (_warned)
        {
            if (!_warned.Add(clusterId))
            {
                return;
            }
        }

        Log.NoLatencyReporting(_logger, clusterId);
    }
}
