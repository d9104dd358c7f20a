using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Loadwise.Yarp;

/// <summary><see cref="LoadwisePolicies.WeightedRoundRobin"/>: Core's smooth weighted round robin over the destinations' weights.</summary>
internal sealed class WeightedRoundRobinPolicy(ILogger<WeightedRoundRobinPolicy> logger) : ILoadBalancingPolicy
{
    private readonly ClusterPicker<WeightedRoundRobin<DestinationNode, string, DestinationNodeAccessor>> _picker = new(static _ => new(), keyed: false, logger);

    public string Name => LoadwisePolicies.WeightedRoundRobin;

    internal ClusterPicker<WeightedRoundRobin<DestinationNode, string, DestinationNodeAccessor>> Picker => _picker;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations) =>
        _picker.Pick(context, cluster, availableDestinations);
}
