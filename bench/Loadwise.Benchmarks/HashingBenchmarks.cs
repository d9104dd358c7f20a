using BenchmarkDotNet.Attributes;

namespace Loadwise.Benchmarks;

/// <summary>
/// One keyed pick per operation for every hashing variant over N candidates: the ring (baseline), Maglev, and both
/// under a load bound with no node full (an idle in-flight counter). Each benchmark loops 1,024 picks over 1,024 keys.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class HashingBenchmarks
{
    private const int Ops = 1024;
    private BenchNode[] _nodes = [];
    private ulong[] _keys = [];
    private ConsistentHash<BenchNode, string, NodeAccessor<BenchNode, string>> _ring = Loadwise.ConsistentHash.For<BenchNode, string>();
    private Maglev<BenchNode, string, WeightedNodeAccessor<BenchNode, string>> _maglev = Loadwise.Maglev.For<BenchNode, string>();
    private BoundedLoad<BenchNode, ConsistentHash<BenchNode, string, NodeAccessor<BenchNode, string>>, InFlightLoads<BenchNode>>? _boundedRing;
    private BoundedLoad<BenchNode, Maglev<BenchNode, string, WeightedNodeAccessor<BenchNode, string>>, InFlightLoads<BenchNode>>? _boundedMaglev;

    [Params(3, 16, 64, 1000)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _nodes = BenchNode.Create(N);
        var random = new System.Random(7);
        _keys = Enumerable.Range(0, Ops).Select(_ => (ulong)random.NextInt64()).ToArray();
        _ring = Loadwise.ConsistentHash.For<BenchNode, string>();
        _maglev = Loadwise.Maglev.For<BenchNode, string>(N * 100 < 65_537 ? 65_537 : 655_373);
        var loads = new InFlightLoads<BenchNode>(new InFlightCounter(N));
        _boundedRing = BoundedLoad.Over(Loadwise.ConsistentHash.For<BenchNode, string>(), loads);
        _boundedMaglev = BoundedLoad.Over(Loadwise.Maglev.For<BenchNode, string>(_maglev.TableSize), loads);
        var warm = new SelectionContext { HashKey = 1 }; // build the ring and tables outside the timing
        _ring.TrySelect(_nodes, in warm, out _);
        _maglev.TrySelect(_nodes, in warm, out _);
        _boundedRing.TrySelect(_nodes, in warm, out _);
        _boundedMaglev.TrySelect(_nodes, in warm, out _);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public int Ring()
    {
        int sum = 0;
        foreach (ulong key in _keys)
        {
            _ring.TrySelect(_nodes, new SelectionContext { HashKey = key }, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int Maglev()
    {
        int sum = 0;
        foreach (ulong key in _keys)
        {
            _maglev.TrySelect(_nodes, new SelectionContext { HashKey = key }, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int BoundedRing()
    {
        int sum = 0;
        foreach (ulong key in _keys)
        {
            _boundedRing!.TrySelect(_nodes, new SelectionContext { HashKey = key }, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int BoundedMaglev()
    {
        int sum = 0;
        foreach (ulong key in _keys)
        {
            _boundedMaglev!.TrySelect(_nodes, new SelectionContext { HashKey = key }, out int index);
            sum += index;
        }

        return sum;
    }
}

/// <summary>Building one Maglev table (M = 65,537) for 100 nodes: a new strategy's first pick.</summary>
[MemoryDiagnoser]
[MedianColumn]
public class MaglevBuildBenchmarks
{
    private readonly BenchNode[] _nodes = BenchNode.Create(100);

    [Benchmark]
    public int Build100NodesAt65537()
    {
        var maglev = Loadwise.Maglev.For<BenchNode, string>(65_537);
        maglev.TrySelect(_nodes, new SelectionContext { HashKey = 1 }, out int index);
        return index;
    }
}
