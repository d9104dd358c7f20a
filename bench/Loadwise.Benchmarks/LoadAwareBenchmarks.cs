using BenchmarkDotNet.Attributes;

namespace Loadwise.Benchmarks;

/// <summary>
/// One unkeyed pick per operation for the load-aware power-of-two-choices strategies over N candidates:
/// PowerOfTwoChoices (baseline, least load), WeightedLeastRequest (Envoy's effective weight) and PeakEwma (latency
/// average x in flight, every node measured). Each benchmark loops 1,024 picks.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class LoadAwareBenchmarks
{
    private const int Ops = 1024;
    private BenchNode[] _nodes = [];
    private readonly PowerOfTwoChoices<BenchNode, LoadAccessor<BenchNode>> _powerOfTwo = Loadwise.PowerOfTwoChoices.For<BenchNode>();
    private readonly WeightedLeastRequest<BenchNode, WeightedLoadAccessor<BenchNode>> _weightedLeastRequest = Loadwise.WeightedLeastRequest.For<BenchNode>();
    private PeakEwma<BenchNode>? _peakEwma;

    [Params(3, 16, 64, 1000)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _nodes = BenchNode.Create(N);
        var tracker = new PeakEwmaTracker(N);
        for (int i = 0; i < N; i++)
        {
            tracker.Begin(i);
            tracker.Report(i, TimeSpan.FromMilliseconds(1 + (i % 9)));
        }

        _peakEwma = new PeakEwma<BenchNode>(tracker);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
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
    public int WeightedLeastRequest()
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _weightedLeastRequest.TrySelect(_nodes, SelectionContext.Empty, out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public int PeakEwma()
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _peakEwma!.TrySelect(_nodes, SelectionContext.Empty, out int index);
            sum += index;
        }

        return sum;
    }
}
