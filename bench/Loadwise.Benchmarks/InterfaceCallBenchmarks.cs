using BenchmarkDotNet.Attributes;

namespace Loadwise.Benchmarks;

/// <summary>
/// The snapshot strategies over 16 nodes held as <see cref="ISelectionStrategy{TNode}"/>, as a caller that picks its
/// strategy from configuration holds them (the proxy does): the JIT cannot inline the pick into the caller, so the
/// strategy's shared generic code runs as compiled for string ids. With dynamic PGO and without it (as in a native AOT
/// build).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[Config(typeof(BenchmarkJobs.PgoConfig))]
public class InterfaceCallBenchmarks
{
    private const int Ops = 1024;
    private readonly ISelectionStrategy<BenchNode> _ring = Loadwise.ConsistentHash.For<BenchNode, string>();
    private readonly ISelectionStrategy<BenchNode> _weightedRoundRobin = Loadwise.WeightedRoundRobin.For<BenchNode, string>();
    private readonly ISelectionStrategy<BenchNode> _weightedRandom = Loadwise.WeightedRandom.For<BenchNode>();
    private readonly ISelectionStrategy<BenchNode> _leastLoad = Loadwise.LeastLoad.For<BenchNode>();
    private BenchNode[] _nodes = [];
    private ulong[] _keys = [];

    [GlobalSetup]
    public void Setup()
    {
        _nodes = BenchNode.Create(16);
        _keys = Enumerable.Range(0, Ops).Select(i => (ulong)new System.Random(i).NextInt64()).ToArray();
        _ring.TrySelect(_nodes, new SelectionContext { HashKey = 1 }, out _); // build the ring outside the timing
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int ConsistentHash()
    {
        int sum = 0;
        ulong[] keys = _keys;
        for (int i = 0; i < keys.Length; i++)
        {
            var context = new SelectionContext { HashKey = keys[i] };
            _ring.TrySelect(_nodes, in context, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int WeightedRoundRobin() => Run(_weightedRoundRobin);

    [Benchmark(OperationsPerInvoke = Ops)]
    public int WeightedRandom() => Run(_weightedRandom);

    [Benchmark(OperationsPerInvoke = Ops)]
    public int LeastLoad() => Run(_leastLoad);

    private int Run(ISelectionStrategy<BenchNode> strategy)
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            strategy.TrySelect(_nodes, SelectionContext.Empty, out int index);
            sum += index;
        }

        return sum;
    }
}
