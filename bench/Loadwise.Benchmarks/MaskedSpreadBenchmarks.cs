using BenchmarkDotNet.Attributes;

namespace Loadwise.Benchmarks;

/// <summary>
/// One pick per operation over 64 candidates with 0 (no mask: the unmasked path), 1 or 16 (every fourth) candidates
/// masked out, for every keyless strategy. Each benchmark loops 1,024 picks under one mask.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class MaskedSpreadBenchmarks
{
    private const int Ops = 1024;
    private const int Count = 64;
    private readonly ulong[] _bits = new ulong[CandidateMask.WordsFor(Count)];
    private readonly RoundRobin<BenchNode> _roundRobin = new();
    private readonly Random<BenchNode> _random = new();
    private readonly WeightedRandom<BenchNode, WeightAccessor<BenchNode>> _weightedRandom = Loadwise.WeightedRandom.For<BenchNode>();
    private readonly WeightedRoundRobin<BenchNode, string, WeightedNodeAccessor<BenchNode, string>> _weightedRoundRobin = Loadwise.WeightedRoundRobin.For<BenchNode, string>();
    private readonly LeastLoad<BenchNode, LoadAccessor<BenchNode>> _leastLoad = Loadwise.LeastLoad.For<BenchNode>();
    private readonly PowerOfTwoChoices<BenchNode, LoadAccessor<BenchNode>> _powerOfTwo = Loadwise.PowerOfTwoChoices.For<BenchNode>();
    private readonly MostAvailable<BenchNode, RemainingRatioAccessor<BenchNode>> _mostAvailable = Loadwise.MostAvailable.For<BenchNode>();
    private BenchNode[] _nodes = [];
    private BenchNode[] _idleNodes = [];

    /// <summary>How many of the 64 candidates are masked out; 0 passes no mask at all.</summary>
    [Params(0, 1, 16)]
    public int Masked { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _nodes = BenchNode.Create(Count);
        _idleNodes = _nodes.Select(n => n with { LoadScore = 0 }).ToArray();
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int RoundRobin()
    {
        SelectionContext context = Context();
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _roundRobin.TrySelect(_nodes, in context, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int Random()
    {
        SelectionContext context = Context();
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _random.TrySelect(_nodes, in context, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int WeightedRandom()
    {
        SelectionContext context = Context();
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _weightedRandom.TrySelect(_nodes, in context, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int WeightedRoundRobin()
    {
        SelectionContext context = Context();
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _weightedRoundRobin.TrySelect(_nodes, in context, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int LeastLoad()
    {
        SelectionContext context = Context();
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _leastLoad.TrySelect(_nodes, in context, out int index);
            sum += index;
        }

        return sum;
    }

    /// <summary>Every load equal (idle backends): all 64 (or the allowed ones) tie.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int LeastLoadAllTied()
    {
        SelectionContext context = Context();
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _leastLoad.TrySelect(_idleNodes, in context, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int PowerOfTwoChoices()
    {
        SelectionContext context = Context();
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _powerOfTwo.TrySelect(_nodes, in context, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int MostAvailable()
    {
        SelectionContext context = Context();
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _mostAvailable.TrySelect(_nodes, in context, out int index);
            sum += index;
        }

        return sum;
    }

    // No mask at all for Masked = 0 (the unmasked path); otherwise every (64 / Masked)-th candidate from index 5 is out.
    private SelectionContext Context()
    {
        if (Masked == 0)
        {
            return default;
        }

        var mask = new CandidateMask(_bits, Count);
        int stride = Count / Masked;
        for (int m = 0; m < Masked; m++)
        {
            mask.Exclude((5 + (m * stride)) % Count);
        }

        return new SelectionContext { Mask = mask };
    }
}
