using Grpc.Net.Client.Balancer;

namespace Loadwise.Grpc;

/// <summary>
/// A READY subchannel as a Loadwise node: identity host:port, weight from the address attributes, load the calls in
/// flight counted by <see cref="CallTracker"/> from Start to Complete (read on every pick).
/// </summary>
internal sealed class SubchannelNode(Subchannel subchannel, string id, int weight) : INode<string>, IWeighted, ILoadMetric
{
    private int _inFlight;

    public Subchannel Subchannel { get; } = subchannel;

    public string Id { get; } = id;

    public int Weight { get; } = weight;

    public double LoadScore => Volatile.Read(ref _inFlight);

    public int InFlight => Volatile.Read(ref _inFlight);

    public static string IdOf(BalancerAddress address) => $"{address.EndPoint.Host}:{address.EndPoint.Port}";

    public static int WeightOf(BalancerAddress address) =>
        address.Attributes.TryGetValue(LoadwiseAddressAttributes.Weight, out int weight) ? Math.Max(0, weight) : 1;

    public void Enter() => Interlocked.Increment(ref _inFlight);

    public void Leave() => Interlocked.Decrement(ref _inFlight);
}
