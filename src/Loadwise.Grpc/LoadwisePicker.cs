using System.Net.Http.Headers;
using Grpc.Core;
using Grpc.Net.Client.Balancer;

namespace Loadwise.Grpc;

/// <summary>
/// Picks among one set of READY subchannels with the balancer's Loadwise <see cref="LoadBalancer{TNode}"/>: the hash
/// key from the call's metadata, in-flight counts and outcomes through a <see cref="CallTracker"/> per call. While
/// some node is Unhealthy, one call per probe interval goes to it to test it.
/// </summary>
internal sealed class LoadwisePicker : SubchannelPicker
{
    private readonly LoadBalancer<SubchannelNode> _balancer;
    private readonly SubchannelNode[] _nodes;
    private readonly string? _hashHeader;
    private readonly HealthTracker<string>? _health;
    private long _seenHealthVersion = -1;
    private volatile bool _anyUnhealthy;

    public LoadwisePicker(LoadBalancer<SubchannelNode> balancer, SubchannelNode[] nodes, string? hashHeader)
    {
        _balancer = balancer;
        _nodes = nodes;
        _hashHeader = hashHeader;
        _health = balancer.Health;
    }

    internal IReadOnlyList<SubchannelNode> Nodes => _nodes;

    public override PickResult Pick(PickContext context)
    {
        HttpRequestMessage? request = context.Request;
        if (_health is { } health && ProbeDue(health) is { } probe)
        {
            return Track(request, probe, new CallTracker(probe, health));
        }

        var selection = new SelectionContext { HashKey = HashKeyOf(request) };
        if (_balancer.TryAcquire(in selection, out NodeLease<SubchannelNode> lease))
        {
            SubchannelNode node = lease.Node;
            return Track(request, node, new CallTracker(node, lease));
        }

        return PickResult.ForFailure(new Status(
            StatusCode.Unavailable,
            $"Loadwise balancer '{_balancer.Name}': all {_nodes.Length} READY subchannels are unhealthy or resting after RESOURCE_EXHAUSTED; retry later."));
    }

    public override string ToString() => $"{_balancer.StrategyName} over {string.Join(", ", _nodes.Select(static n => n.Id))}";

    private static PickResult Track(HttpRequestMessage? request, SubchannelNode node, CallTracker tracker)
    {
        if (request is null)
        {
            return PickResult.ForSubchannel(node.Subchannel, tracker);
        }

        // gRPC picks again for the same request when the subchannel it got left READY before the call was sent.
        if (request.Options.TryGetValue(LoadwiseGrpcHandler.TrackerKey, out CallTracker? dropped))
        {
            dropped.Abandon();
        }

        request.Options.Set(LoadwiseGrpcHandler.TrackerKey, tracker);
        return PickResult.ForSubchannel(node.Subchannel, tracker);
    }

    private ulong? HashKeyOf(HttpRequestMessage? request)
    {
        if (_hashHeader is null || request is null || !request.Headers.NonValidated.TryGetValues(_hashHeader, out HeaderStringValues values))
        {
            return null;
        }

        foreach (string value in values)
        {
            return StableHash.Hash(value);
        }

        return null;
    }

    private SubchannelNode? ProbeDue(HealthTracker<string> health)
    {
        // The tracker's version moves on status changes and rests, not on ordinary successes: one read per pick.
        long version = health.Version;
        if (version != Volatile.Read(ref _seenHealthVersion))
        {
            bool any = false;
            foreach (SubchannelNode node in _nodes)
            {
                any |= health.GetStatus(node.Id) == HealthStatus.Unhealthy;
            }

            _anyUnhealthy = any;
            Volatile.Write(ref _seenHealthVersion, version);
        }

        if (!_anyUnhealthy)
        {
            return null;
        }

        foreach (SubchannelNode node in _nodes)
        {
            if (health.TryBeginProbe(node.Id))
            {
                return node;
            }
        }

        return null;
    }
}
