using BenchmarkDotNet.Attributes;

namespace Loadwise.Benchmarks;

/// <summary>One pick per operation, for every strategy, over N candidates. Each benchmark loops 1,024 picks.</summary>
[MemoryDiagnoser]
[MedianColumn]
public class StrategyBenchmarks
{
    private const int Ops = 1024;
    private BenchNode[] _nodes = [];
    private ulong[] _keys = [];
    private readonly RoundRobin<BenchNode> _roundRobin = new();
    private readonly Random<BenchNode> _random = new();
    private readonly WeightedRandom<BenchNode, WeightAccessor<BenchNode>> _weightedRandom = Loadwise.WeightedRandom.For<BenchNode>();
    private readonly WeightedRoundRobin<BenchNode, string, WeightedNodeAccessor<BenchNode, string>> _weightedRoundRobin = Loadwise.WeightedRoundRobin.For<BenchNode, string>();
    private readonly LeastLoad<BenchNode, LoadAccessor<BenchNode>> _leastLoad = Loadwise.LeastLoad.For<BenchNode>();
    private readonly PowerOfTwoChoices<BenchNode, LoadAccessor<BenchNode>> _powerOfTwo = Loadwise.PowerOfTwoChoices.For<BenchNode>();
    private readonly ConsistentHash<BenchNode, string, NodeAccessor<BenchNode, string>> _consistentHash = Loadwise.ConsistentHash.For<BenchNode, string>();
    private readonly MostAvailable<BenchNode, RemainingRatioAccessor<BenchNode>> _mostAvailable = Loadwise.MostAvailable.For<BenchNode>();

    [Params(3, 16, 64, 1000)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _nodes = BenchNode.Create(N);
        var random = new System.Random(7);
        _keys = Enumerable.Range(0, Ops).Select(_ => (ulong)random.NextInt64()).ToArray();
        _consistentHash.TrySelect(_nodes, new SelectionContext { HashKey = 1 }, out _); // build the ring outside the timing
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int RoundRobin()
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _roundRobin.TrySelect(_nodes, SelectionContext.Empty, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int Random()
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _random.TrySelect(_nodes, SelectionContext.Empty, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int WeightedRandom()
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _weightedRandom.TrySelect(_nodes, SelectionContext.Empty, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int WeightedRoundRobin()
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _weightedRoundRobin.TrySelect(_nodes, SelectionContext.Empty, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int LeastLoad()
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _leastLoad.TrySelect(_nodes, SelectionContext.Empty, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int PowerOfTwoChoices()
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _powerOfTwo.TrySelect(_nodes, SelectionContext.Empty, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int ConsistentHash()
    {
        int sum = 0;
        ulong[] keys = _keys;
        for (int i = 0; i < keys.Length; i++)
        {
            var context = new SelectionContext { HashKey = keys[i] };
            _consistentHash.TrySelect(_nodes, in context, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int MostAvailable()
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _mostAvailable.TrySelect(_nodes, SelectionContext.Empty, out int index);
            sum += index;
        }

        return sum;
    }
}

/// <summary>The floors the strategy rows are measured against.</summary>
[MemoryDiagnoser]
[MedianColumn]
public class BaselineBenchmarks
{
    private const int Ops = 1024;
    private readonly double[] _loads = Enumerable.Range(0, 64).Select(i => (double)((i * 37) % 64)).ToArray();
    private long _counter;

    [Benchmark(OperationsPerInvoke = Ops)]
    public long InterlockedIncrement()
    {
        long sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            sum += Interlocked.Increment(ref _counter);
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int RandomSharedNext()
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            sum += System.Random.Shared.Next(64);
        }

        return sum;
    }

    /// <summary>A plain scalar "index of the minimum" over 64 doubles: the floor LeastLoad must beat with SIMD.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int ScalarScan64()
    {
        int sum = 0;
        double[] loads = _loads;
        for (int op = 0; op < Ops; op++)
        {
            int best = 0;
            double min = loads[0];
            for (int i = 1; i < loads.Length; i++)
            {
                if (loads[i] < min)
                {
                    min = loads[i];
                    best = i;
                }
            }

            sum += best;
        }

        return sum;
    }
}

/// <summary>ConsistentHash at 1,000 nodes x 160 virtual nodes (160,000 ring points), random keys.</summary>
[MemoryDiagnoser]
[MedianColumn]
public class ConsistentHashRingBenchmarks
{
    private const int Ops = 1024;
    private BenchNode[] _nodes = [];
    private ulong[] _keys = [];
    private readonly ConsistentHash<BenchNode, string, NodeAccessor<BenchNode, string>> _ring = ConsistentHash.For<BenchNode, string>(160);

    [GlobalSetup]
    public void Setup()
    {
        _nodes = BenchNode.Create(1000);
        var random = new System.Random(3);
        _keys = Enumerable.Range(0, Ops).Select(_ => (ulong)random.NextInt64()).ToArray();
        _ring.TrySelect(_nodes, new SelectionContext { HashKey = 1 }, out _);
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int Pick1000x160()
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
}
