using BenchmarkDotNet.Attributes;

namespace Loadwise.Benchmarks;

public sealed record HealthBenchNode(string Id, double LoadScore) : INode<string>, ILoadMetric;

/// <summary>Targets: status lookup &lt;= 10 ns; HealthFilter + PowerOfTwoChoices over 64 nodes &lt;= 40 ns; 0 B.</summary>
[MemoryDiagnoser]
[MedianColumn]
public class HealthBenchmarks
{
    private HealthTracker<string> _tracker = null!;
    private NodeHealth<string> _handle = null!;
    private HealthBenchNode[] _nodes = null!;
    private HealthFilter<HealthBenchNode, string, NodeAccessor<HealthBenchNode, string>> _filter = null!;
    private PowerOfTwoChoices<HealthBenchNode, LoadAccessor<HealthBenchNode>> _p2c = null!;
    private FilteredStrategy<HealthBenchNode, HealthFilter<HealthBenchNode, string, NodeAccessor<HealthBenchNode, string>>, PowerOfTwoChoices<HealthBenchNode, LoadAccessor<HealthBenchNode>>> _filtered = null!;
    private string _lookupId = null!;
    private ulong[] _staticMask = null!;
    private HealthTracker<string> _healthyTracker = null!;
    private FilteredStrategy<HealthBenchNode, HealthFilter<HealthBenchNode, string, NodeAccessor<HealthBenchNode, string>>, PowerOfTwoChoices<HealthBenchNode, LoadAccessor<HealthBenchNode>>> _filteredHealthy = null!;

    [GlobalSetup]
    public void Setup()
    {
        _tracker = new HealthTracker<string>();
        _nodes = new HealthBenchNode[64];
        for (int i = 0; i < _nodes.Length; i++)
        {
            _nodes[i] = new HealthBenchNode($"10.0.{i / 256}.{i % 256}:8080", 1 + (i % 13));
        }

        // A realistic mix: a few nodes out, one degraded.
        for (int i = 0; i < 3; i++)
        {
            _tracker.ReportFailure(_nodes[7].Id);
            _tracker.ReportFailure(_nodes[21].Id);
        }

        _tracker.ReportFailure(_nodes[40].Id);
        _tracker.ReportFailure(_nodes[40].Id);
        _lookupId = _nodes[33].Id;
        _tracker.ReportSuccess(_lookupId);
        _handle = _tracker.GetHandle(_lookupId);
        _filter = new HealthFilter<HealthBenchNode, string, NodeAccessor<HealthBenchNode, string>>(_tracker);
        _p2c = PowerOfTwoChoices.For<HealthBenchNode>();
        _filtered = new(_filter, _p2c);
        _staticMask = [~((1UL << 7) | (1UL << 21))];
        _healthyTracker = new HealthTracker<string>();
        _filteredHealthy = new(new HealthFilter<HealthBenchNode, string, NodeAccessor<HealthBenchNode, string>>(_healthyTracker), _p2c);
    }

    [Benchmark(Description = "HealthTracker.GetStatus(string id)")]
    public HealthStatus StatusLookup() => _tracker.GetStatus(_lookupId);

    [Benchmark(Description = "NodeHealth.Status (cached handle)")]
    public HealthStatus HandleStatus() => _handle.Status;

    [Benchmark(Description = "PowerOfTwoChoices, 64 nodes, no filter")]
    public int PowerOfTwoChoicesAlone()
    {
        _p2c.TrySelect(_nodes, SelectionContext.Empty, out int index);
        return index;
    }

    [Benchmark(Description = "PowerOfTwoChoices, 64 nodes, fixed mask (2 out)")]
    public int PowerOfTwoChoicesMasked()
    {
        Span<ulong> bits = stackalloc ulong[1];
        var mask = new CandidateMask(bits, 64);
        bits[0] = _staticMask[0];
        var context = new SelectionContext { Mask = mask };
        _p2c.TrySelect(_nodes, in context, out int index);
        return index;
    }

    [Benchmark(Description = "HealthFilter + PowerOfTwoChoices, 64 nodes all healthy")]
    public int HealthFilterPlusPowerOfTwoChoicesAllHealthy()
    {
        _filteredHealthy.TrySelect(_nodes, SelectionContext.Empty, out int index);
        return index;
    }

    [Benchmark(Description = "HealthFilter + PowerOfTwoChoices, 64 nodes (2 out)")]
    public int HealthFilterPlusPowerOfTwoChoices()
    {
        _filtered.TrySelect(_nodes, SelectionContext.Empty, out int index);
        return index;
    }
}
