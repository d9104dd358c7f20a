using BenchmarkDotNet.Attributes;
using Grpc.Net.Client.Balancer;
using Loadwise.Grpc;

namespace Loadwise.Benchmarks;

/// <summary>
/// The CPU a Loadwise gRPC picker adds per call, without the network: <c>Pick</c>, then the tracker's <c>Start</c>
/// and <c>Complete</c>, as gRPC calls them around a call. The baseline does what gRPC's <c>round_robin</c> picker
/// does per call (an atomic counter and <c>PickResult.ForSubchannel</c>). Three nodes; the subchannels are never
/// touched on this path, so none is created. In process, like <see cref="GrpcBalancerBenchmarks"/>.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[Config(typeof(BenchmarkJobs.InProcessShortRun))]
public class GrpcPickBenchmarks
{
    private static readonly CompletionContext Completed = new();

    private SubchannelNode[] _nodes = null!;
    private LoadwisePicker _roundRobin = null!;
    private LoadwisePicker _p2c = null!;
    private LoadwisePicker _leastRequest = null!;
    private LoadwisePicker _ringHash = null!;
    private PickContext _plain = null!;
    private PickContext _withPlayer = null!;
    private long _counter;

    [GlobalSetup]
    public void Setup()
    {
        _nodes = [new(null!, "10.0.0.1:5001", 1), new(null!, "10.0.0.2:5001", 1), new(null!, "10.0.0.3:5001", 1)];
        _roundRobin = Picker("RoundRobin", null);
        _p2c = Picker("PowerOfTwoChoices", null);
        _leastRequest = Picker("LeastLoad", null);
        _ringHash = Picker("ConsistentHash", "player-id");
        _plain = new PickContext { Request = new HttpRequestMessage(HttpMethod.Post, "http://lobby/bench.Lobby/Join") };
        var withPlayer = new HttpRequestMessage(HttpMethod.Post, "http://lobby/bench.Lobby/Join");
        withPlayer.Headers.TryAddWithoutValidation("player-id", "player-42");
        _withPlayer = new PickContext { Request = withPlayer };
    }

    [Benchmark(Baseline = true)]
    public PickResult GrpcRoundRobinPick()
    {
        long c = Interlocked.Increment(ref _counter);
        return PickResult.ForSubchannel(_nodes[(int)(c % _nodes.Length)].Subchannel);
    }

    [Benchmark]
    public PickResult LoadwiseRoundRobin() => PickStartComplete(_roundRobin, _plain);

    [Benchmark]
    public PickResult LoadwisePowerOfTwoChoices() => PickStartComplete(_p2c, _plain);

    [Benchmark]
    public PickResult LoadwiseLeastRequest() => PickStartComplete(_leastRequest, _plain);

    [Benchmark]
    public PickResult LoadwiseRingHash() => PickStartComplete(_ringHash, _withPlayer);

    private static PickResult PickStartComplete(LoadwisePicker picker, PickContext context)
    {
        PickResult result = picker.Pick(context);
        result.SubchannelCallTracker!.Start();
        result.SubchannelCallTracker.Complete(Completed);
        return result;
    }

    private LoadwisePicker Picker(string strategy, string? header)
    {
        LoadBalancer<SubchannelNode> balancer = LoadBalancer.For<SubchannelNode>()
            .UseStrategy(new StrategySettings { Name = strategy })
            .WithHealth()
            .Build(_nodes);
        return new LoadwisePicker(balancer, _nodes, header);
    }
}
