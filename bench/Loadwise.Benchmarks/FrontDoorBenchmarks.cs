using BenchmarkDotNet.Attributes;

namespace Loadwise.Benchmarks;

/// <summary>
/// The front door against the same composition spelled by hand with generics: a health filter, PowerOfTwoChoices over
/// the in-flight count, an in-flight increment per pick and a decrement plus a success report per release. The hand
/// version holds the concrete generic types (<c>Filter.TrySelect</c> with <c>HealthFilter</c> and
/// <c>PowerOfTwoChoices&lt;HandNode, LoadAccessor&gt;</c>); the front door is built by
/// <c>LoadBalancer.For&lt;string&gt;().UsePowerOfTwoChoices().WithHealth()</c>. Both pick and release 1,024 times per
/// invocation over the same node count, with one node Unhealthy so the filter narrows.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[Config(typeof(BenchmarkJobs.PgoConfig))]
public class FrontDoorBenchmarks
{
    private const int Ops = 1024;
    private HandNode[] _nodes = [];
    private HealthTracker<string> _handHealth = null!;
    private HealthFilter<HandNode, string, NodeAccessor<HandNode, string>> _handFilter = null!;
    private PowerOfTwoChoices<HandNode, LoadAccessor<HandNode>> _handStrategy = null!;
    private LoadBalancer<string> _balancer = null!;

    [Params(8, 64)]
    public int Nodes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string[] ids = Enumerable.Range(0, Nodes).Select(i => $"10.0.0.{i}:8080").ToArray();
        _nodes = ids.Select(id => new HandNode(id)).ToArray();
        _handHealth = new HealthTracker<string>(new HealthTrackerOptions { Policy = new ConsecutiveFailurePolicy(1) });
        _handFilter = new HealthFilter<HandNode, string, NodeAccessor<HandNode, string>>(_handHealth);
        _handStrategy = PowerOfTwoChoices.For<HandNode>();
        _handHealth.ReportFailure(ids[1]);

        _balancer = LoadBalancer.For<string>().UsePowerOfTwoChoices().WithHealth().Configure(new LoadBalancerOptions { Health = new HealthSettings { FailureThreshold = 1 } }).Build(ids);
        _balancer.Health!.ReportFailure(ids[1]);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public int HandComposed()
    {
        int sum = 0;
        HandNode[] nodes = _nodes;
        for (int i = 0; i < Ops; i++)
        {
            if (Filter.TrySelect(nodes, SelectionContext.Empty, _handFilter, _handStrategy, out int index))
            {
                HandNode node = nodes[index];
                node.Enter();
                sum += index;
                node.Leave();
                _handHealth.Report(node.Id, Outcome.Success);
            }
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int FrontDoor()
    {
        int sum = 0;
        LoadBalancer<string> balancer = _balancer;
        for (int i = 0; i < Ops; i++)
        {
            if (balancer.TryAcquire(SelectionContext.Empty, out NodeLease<string> lease))
            {
                sum += lease.Index;
                lease.Dispose(Outcome.Success);
            }
        }

        return sum;
    }

    /// <summary>A node as a user would write it by hand: its identity and its in-flight count as its load.</summary>
    public sealed class HandNode(string id) : INode<string>, ILoadMetric
    {
        private int _inFlight;

        public string Id { get; } = id;

        public double LoadScore => Volatile.Read(ref _inFlight);

        public void Enter() => Interlocked.Increment(ref _inFlight);

        public void Leave() => Interlocked.Decrement(ref _inFlight);
    }
}
