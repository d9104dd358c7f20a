using Yarp.ReverseProxy.Model;

namespace Loadwise.Yarp;

/// <summary>A YARP destination as the Core strategies see it: its id, and the weight and priority read from its metadata.</summary>
internal readonly record struct DestinationNode(DestinationState State, string Id, int Weight, int Priority);

/// <summary>
/// Reads a <see cref="DestinationNode"/> for the Core strategies: identity (the destination id), weight, priority, and
/// load (the requests YARP has in flight on it, counted by its forwarder).
/// </summary>
internal readonly struct DestinationNodeAccessor :
    INodeAccessor<DestinationNode, string>, IWeightAccessor<DestinationNode>, IPriorityAccessor<DestinationNode>, ILoadAccessor<DestinationNode>
{
    public static string GetId(in DestinationNode node) => node.Id;

    public static int GetWeight(in DestinationNode node) => node.Weight;

    public static int GetPriority(in DestinationNode node) => node.Priority;

    public static double GetLoad(in DestinationNode node) => node.State.ConcurrentRequestCount;
}

/// <summary>YARP already decided availability (the candidate mask): the priority filter's own health filter lets everything through.</summary>
internal readonly struct AvailableAsGiven : ICandidateFilter<DestinationNode>
{
    public void Apply(ReadOnlySpan<DestinationNode> candidates, in SelectionContext context, CandidateMask mask)
    {
    }
}
