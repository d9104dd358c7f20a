using BenchmarkDotNet.Attributes;

namespace Loadwise.Benchmarks;

public sealed record BenchProvider(string Id, NodeQuota Quota) : INode<string>, IRemainingCapacity
{
    public double RemainingRatio => Quota.RemainingRatio;
}

/// <summary>Target: quota check per pick &lt;= 30 ns, 0 B.</summary>
[MemoryDiagnoser]
[MedianColumn]
public class QuotaBenchmarks
{
    private QuotaTracker<string> _quotas = null!;
    private NodeQuota _handle = null!;
    private BenchProvider[] _providers8 = null!;
    private BenchProvider[] _providers64 = null!;
    private QuotaFilter<BenchProvider, string, NodeAccessor<BenchProvider, string>> _filter = null!;
    private MostAvailable<BenchProvider, RemainingRatioAccessor<BenchProvider>> _mostAvailable = null!;

    [GlobalSetup]
    public void Setup()
    {
        // Limits far above what a benchmark run can use, so every check takes the full "fits" path.
        _quotas = new QuotaTracker<string>([QuotaLimit.RequestsPerMinute(1e12), QuotaLimit.TokensPerMinute(1e15)]);
        _providers64 = new BenchProvider[64];
        for (int i = 0; i < _providers64.Length; i++)
        {
            string id = $"provider-{i}";
            _providers64[i] = new BenchProvider(id, _quotas.GetHandle(id));
            _quotas.Charge(id, 1_000 * (i % 5));
        }

        _providers8 = _providers64[..8];
        _handle = _quotas.GetHandle("provider-3");
        _filter = new QuotaFilter<BenchProvider, string, NodeAccessor<BenchProvider, string>>(_quotas);
        _mostAvailable = MostAvailable.For<BenchProvider>();
    }

    [Benchmark(Description = "QuotaTracker.CanAccept(id, cost)")]
    public bool CanAccept() => _quotas.CanAccept("provider-3", 1_200);

    [Benchmark(Description = "NodeQuota.WouldAccept(cost) (cached handle)")]
    public bool HandleWouldAccept() => _handle.WouldAccept(1_200);

    [Benchmark(Description = "QuotaTracker.TryCharge(id, cost)")]
    public bool TryCharge() => _quotas.TryCharge("provider-3", 1_200, out _);

    [Benchmark(Description = "Charge + Correct (pick and response)")]
    public void ChargeAndCorrect() => _quotas.Charge("provider-3", 1_200).Correct(1_000);

    [Benchmark(Description = "NodeQuota.RemainingRatio")]
    public double RemainingRatio() => _handle.RemainingRatio;

    [Benchmark(Description = "QuotaFilter + MostAvailable, 8 providers")]
    public int QuotaFilterPlusMostAvailable8()
    {
        var context = new SelectionContext { EstimatedCost = 1_200 };
        Filter.TrySelect(_providers8, in context, _filter, _mostAvailable, out int index);
        return index;
    }

    [Benchmark(Description = "QuotaFilter alone, 64 providers")]
    public int QuotaFilter64()
    {
        var context = new SelectionContext { EstimatedCost = 1_200 };
        Span<ulong> bits = stackalloc ulong[1];
        var mask = new CandidateMask(bits, _providers64.Length);
        _filter.Apply(_providers64, in context, mask);
        return mask.CountAllowed();
    }
}
