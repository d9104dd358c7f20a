using Grpc.Net.Client.Balancer;

namespace Loadwise.Grpc.Tests;

/// <summary>The picker and call tracker without a network: counts and outcomes as gRPC drives them.</summary>
public sealed class PickerTests
{
    private readonly SubchannelNode[] _nodes = [new(null!, "10.0.0.1:5001", 1), new(null!, "10.0.0.2:5001", 1)];

    [Fact]
    public void A_pick_gRPC_drops_and_repeats_for_the_same_request_holds_one_lease()
    {
        LoadBalancer<SubchannelNode> balancer = LoadBalancer.For<SubchannelNode>().UseRoundRobin().WithHealth().Build(_nodes);
        var picker = new LoadwisePicker(balancer, _nodes, hashHeader: null);
        using var request = new HttpRequestMessage();
        var context = new PickContext { Request = request };

        picker.Pick(context); // dropped: the subchannel left READY before the call was sent
        PickResult sent = picker.Pick(context);

        Assert.Equal(1, LeasesHeld(balancer));
        sent.SubchannelCallTracker!.Start();
        sent.SubchannelCallTracker.Complete(new CompletionContext());
        Assert.Equal(0, LeasesHeld(balancer));
    }

    [Fact]
    public void A_call_counts_in_flight_from_start_to_complete()
    {
        LoadBalancer<SubchannelNode> balancer = LoadBalancer.For<SubchannelNode>().UseLeastLoad().Build(_nodes);
        var picker = new LoadwisePicker(balancer, _nodes, hashHeader: null);

        PickResult first = picker.Pick(new PickContext { Request = new HttpRequestMessage() });
        first.SubchannelCallTracker!.Start();
        PickResult second = picker.Pick(new PickContext { Request = new HttpRequestMessage() });

        Assert.NotEqual(((CallTracker)first.SubchannelCallTracker).Node.Id, ((CallTracker)second.SubchannelCallTracker!).Node.Id);
        Assert.Equal(1, _nodes.Sum(n => n.InFlight));
        first.SubchannelCallTracker.Complete(new CompletionContext());
        Assert.Equal(0, _nodes.Sum(n => n.InFlight));
    }

    [Fact]
    public void Transport_errors_feed_health_and_cancellations_do_not()
    {
        LoadBalancer<SubchannelNode> balancer = LoadBalancer.For<SubchannelNode>().UseRoundRobin().WithHealth().Build(_nodes[..1]);
        var picker = new LoadwisePicker(balancer, _nodes[..1], hashHeader: null);

        for (int i = 0; i < 5; i++)
        {
            Complete(picker, new OperationCanceledException());
        }

        Assert.Equal(HealthStatus.Healthy, balancer.Health!.GetStatus("10.0.0.1:5001"));
        for (int i = 0; i < 3; i++)
        {
            Complete(picker, new HttpRequestException("connection refused"));
        }

        Assert.Equal(HealthStatus.Unhealthy, balancer.Health.GetStatus("10.0.0.1:5001"));
        Assert.Equal(global::Grpc.Core.StatusCode.Unavailable, picker.Pick(new PickContext { Request = new HttpRequestMessage() }).Status.StatusCode);
    }

    private static void Complete(LoadwisePicker picker, Exception error)
    {
        PickResult result = picker.Pick(new PickContext { Request = new HttpRequestMessage() });
        result.SubchannelCallTracker!.Start();
        result.SubchannelCallTracker.Complete(new CompletionContext { Error = error });
    }

    private int LeasesHeld(LoadBalancer<SubchannelNode> balancer) => _nodes.Sum(n => balancer.GetInFlight(n.Id));
}
