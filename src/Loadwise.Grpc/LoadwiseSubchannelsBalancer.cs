using Grpc.Net.Client.Balancer;
using Microsoft.Extensions.Logging;

namespace Loadwise.Grpc;

/// <summary>
/// gRPC's subchannel bookkeeping (one subchannel per resolved address, reconnects, resolver refreshes) with a Loadwise
/// picker: on every subchannel state change gRPC hands over the READY subchannels, and the picker is rebuilt from
/// exactly those as a new snapshot of one <see cref="LoadBalancer{TNode}"/>. A server that stays READY keeps its
/// in-flight count, health and rest; one that leaves READY is forgotten and starts afresh when it returns.
/// </summary>
internal sealed class LoadwiseSubchannelsBalancer : SubchannelsLoadBalancer
{
    private readonly Lock _gate = new();
    private readonly LoadBalancer<SubchannelNode> _balancer;
    private readonly string? _hashHeader;
    private Dictionary<Subchannel, SubchannelNode> _nodes = [];

    public LoadwiseSubchannelsBalancer(IChannelControlHelper controller, ILoggerFactory loggerFactory, LoadwiseBalancerSettings settings, TimeProvider time, System.Diagnostics.Metrics.IMeterFactory? meterFactory)
        : base(controller, loggerFactory)
    {
        _hashHeader = settings.HashHeader;
        _balancer = LoadBalancer.For<SubchannelNode>()
            .Named(settings.Policy)
            .Configure(settings.Options)
            .WithTimeProvider(time)
            .WithMeterFactory(meterFactory)
            .Build();
    }

    internal LoadBalancer<SubchannelNode> Balancer => _balancer;

    protected override SubchannelPicker CreatePicker(IReadOnlyList<Subchannel> readySubchannels)
    {
        lock (_gate)
        {
            var nodes = new Dictionary<Subchannel, SubchannelNode>(readySubchannels.Count);
            var ordered = new SubchannelNode[readySubchannels.Count];
            for (int i = 0; i < readySubchannels.Count; i++)
            {
                Subchannel subchannel = readySubchannels[i];
                BalancerAddress address = subchannel.CurrentAddress ?? subchannel.GetAddresses()[0];
                string id = SubchannelNode.IdOf(address);
                int weight = SubchannelNode.WeightOf(address);
                SubchannelNode node = _nodes.TryGetValue(subchannel, out SubchannelNode? kept) && kept.Id == id && kept.Weight == weight
                    ? kept
                    : new SubchannelNode(subchannel, id, weight);
                nodes[subchannel] = node;
                ordered[i] = node;
            }

            _nodes = nodes;
            _balancer.Update(ordered);
            return new LoadwisePicker(_balancer, ordered, _hashHeader);
        }
    }
}
