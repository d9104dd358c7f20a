using BenchmarkDotNet.Attributes;

namespace Loadwise.Benchmarks;

/// <summary>
/// WithFallback (generic over the two strategy types) against FallbackChain (an array of interfaces), ConsistentHash
/// then RoundRobin over 16 nodes: keyed picks (the primary answers) and unkeyed picks (the primary declines, the
/// fallback answers), next to the primary and the fallback called directly, and WithFallback held as the interface. Run with dynamic PGO (the runtime's
/// default) and without it (DOTNET_TieredPGO=0), which shows what the generic type arguments give by themselves.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[Config(typeof(BenchmarkJobs.PgoConfig))]
public class FallbackBenchmarks
{
    private const int Ops = 1024;
    private readonly ConsistentHash<BenchNode, string, NodeAccessor<BenchNode, string>> _ring = ConsistentHash.For<BenchNode, string>();
    private readonly RoundRobin<BenchNode> _roundRobin = new();
    private WithFallback<BenchNode, ConsistentHash<BenchNode, string, NodeAccessor<BenchNode, string>>, RoundRobin<BenchNode>> _generic = null!;
    private FallbackChain<BenchNode> _chain = null!;
    private ISelectionStrategy<BenchNode> _genericAsInterface = null!;
    private BenchNode[] _nodes = [];
    private ulong[] _keys = [];

    [GlobalSetup]
    public void Setup()
    {
        _nodes = BenchNode.Create(16);
        _keys = Enumerable.Range(0, Ops).Select(i => (ulong)new System.Random(i).NextInt64()).ToArray();
        _generic = new(_ring, _roundRobin);
        _chain = new(_ring, _roundRobin);
        _genericAsInterface = _generic;
        _ring.TrySelect(_nodes, new SelectionContext { HashKey = 1 }, out _); // build the ring outside the timing
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int KeyedDirect()
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
    public int KeyedWithFallback()
    {
        int sum = 0;
        ulong[] keys = _keys;
        for (int i = 0; i < keys.Length; i++)
        {
            var context = new SelectionContext { HashKey = keys[i] };
            _generic.TrySelect(_nodes, in context, out int index);
            sum += index;
        }

        return sum;
    }

    /// <summary>WithFallback held as <see cref="ISelectionStrategy{TNode}"/>, as a caller that picks the strategy from configuration holds it.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int KeyedWithFallbackAsInterface()
    {
        int sum = 0;
        ulong[] keys = _keys;
        for (int i = 0; i < keys.Length; i++)
        {
            var context = new SelectionContext { HashKey = keys[i] };
            _genericAsInterface.TrySelect(_nodes, in context, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int KeyedFallbackChain()
    {
        int sum = 0;
        ulong[] keys = _keys;
        for (int i = 0; i < keys.Length; i++)
        {
            var context = new SelectionContext { HashKey = keys[i] };
            _chain.TrySelect(_nodes, in context, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int UnkeyedDirect()
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
    public int UnkeyedWithFallback()
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _generic.TrySelect(_nodes, SelectionContext.Empty, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int UnkeyedWithFallbackAsInterface()
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _genericAsInterface.TrySelect(_nodes, SelectionContext.Empty, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int UnkeyedFallbackChain()
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _chain.TrySelect(_nodes, SelectionContext.Empty, out int index);
            sum += index;
        }

        return sum;
    }
}
