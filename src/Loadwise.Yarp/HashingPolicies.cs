using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Loadwise.Yarp;

/// <summary><see cref="LoadwisePolicies.ConsistentHash"/>: Core's hash ring by the request's key, weighted round robin without one.</summary>
internal sealed class ConsistentHashPolicy(ILogger<ConsistentHashPolicy> logger) : ILoadBalancingPolicy
{
    private readonly ClusterPicker<WithFallback<DestinationNode, ConsistentHash<DestinationNode, string, DestinationNodeAccessor>, WeightedRoundRobin<DestinationNode, string, DestinationNodeAccessor>>> _picker =
        new(static _ => new(new(), new()), keyed: true, logger);

    public string Name => LoadwisePolicies.ConsistentHash;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations) =>
        _picker.Pick(context, cluster, availableDestinations);
}

/// <summary><see cref="LoadwisePolicies.Maglev"/>: Core's weighted Maglev table by the request's key, weighted round robin without one.</summary>
internal sealed class MaglevPolicy(ILogger<MaglevPolicy> logger) : ILoadBalancingPolicy
{
    private readonly ClusterPicker<WithFallback<DestinationNode, Maglev<DestinationNode, string, DestinationNodeAccessor>, WeightedRoundRobin<DestinationNode, string, DestinationNodeAccessor>>> _picker =
        new(static _ => new(new(), new()), keyed: true, logger);

    public string Name => LoadwisePolicies.Maglev;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations) =>
        _picker.Pick(context, cluster, availableDestinations);
}

/// <summary>
/// <see cref="LoadwisePolicies.BoundedLoad"/>: Core's bounded-load hashing over the ring, bounding the requests YARP has
/// in flight on each destination; weighted round robin without a key.
/// </summary>
internal sealed class BoundedLoadPolicy(ILogger<BoundedLoadPolicy> logger) : ILoadBalancingPolicy
{
    private readonly ClusterPicker<WithFallback<DestinationNode, BoundedLoad<DestinationNode, ConsistentHash<DestinationNode, string, DestinationNodeAccessor>, AccessorLoads<DestinationNode, DestinationNodeAccessor>>, WeightedRoundRobin<DestinationNode, string, DestinationNodeAccessor>>> _picker =
        new(static set => new(new(new(), default, set.BalanceFactor), new()), keyed: true, logger);

    public string Name => LoadwisePolicies.BoundedLoad;

    public DestinationState? PickDestination(HttpContext context, ClusterState cluster, IReadOnlyList<DestinationState> availableDestinations) =>
        _picker.Pick(context, cluster, availableDestinations);
}
