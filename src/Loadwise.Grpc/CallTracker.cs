using Grpc.Net.Client.Balancer;

namespace Loadwise.Grpc;

/// <summary>
/// Follows one call on a picked subchannel: counts it in flight from <see cref="Start"/> to <see cref="Complete"/>
/// and releases the Loadwise lease with the call's outcome. The status comes from <see cref="LoadwiseGrpcHandler"/>
/// when the channel's handler chain has it; otherwise only transport errors are known.
/// </summary>
internal sealed class CallTracker : ISubchannelCallTracker
{
    private readonly SubchannelNode _node;
    private readonly HealthTracker<string>? _probeHealth;
    private NodeLease<SubchannelNode> _lease;
    private Outcome? _observed;
    private bool _observedNeutral;
    private int _state; // 0 picked, 1 started, 2 completed

    /// <summary>A call picked by the balancer: the lease reports the outcome.</summary>
    public CallTracker(SubchannelNode node, NodeLease<SubchannelNode> lease)
    {
        _node = node;
        _lease = lease;
    }

    /// <summary>A probe of an Unhealthy node (picked outside the balancer): the outcome goes to the tracker directly.</summary>
    public CallTracker(SubchannelNode node, HealthTracker<string> probeHealth)
    {
        _node = node;
        _probeHealth = probeHealth;
    }

    public SubchannelNode Node => _node;

    public void Start()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) == 0)
        {
            _node.Enter();
        }
    }

    /// <summary>Records the status read from the response headers, before <see cref="Complete"/> runs.</summary>
    public void Observe(Outcome? outcome)
    {
        if (outcome is null)
        {
            _observedNeutral = true;
        }
        else
        {
            _observed = outcome;
        }
    }

    /// <summary>
    /// Releases the lease of a pick gRPC dropped before sending (it picks again for the same request when the picked
    /// subchannel left READY meanwhile): no outcome, and the call never counted in flight.
    /// </summary>
    public void Abandon()
    {
        if (Interlocked.CompareExchange(ref _state, 2, 0) == 0 && _probeHealth is null)
        {
            _lease.Dispose();
        }
    }

    public void Complete(CompletionContext context)
    {
        int previous = Interlocked.Exchange(ref _state, 2);
        if (previous == 2)
        {
            return;
        }

        if (previous == 1)
        {
            _node.Leave();
        }

        Outcome? outcome = context.Error switch
        {
            null => _observedNeutral ? null : _observed ?? Outcome.Success,
            OperationCanceledException => null, // the caller gave up (deadline or cancellation): says nothing about the server
            _ => Outcome.Failure,
        };
        if (_probeHealth is { } health)
        {
            if (outcome is { } probed)
            {
                health.Report(_node.Id, probed);
            }

            return;
        }

        if (outcome is { } reported)
        {
            _lease.Dispose(reported);
        }
        else
        {
            _lease.Dispose();
        }
    }
}
