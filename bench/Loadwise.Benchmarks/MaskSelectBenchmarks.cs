using System.Numerics;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Attributes;

namespace Loadwise.Benchmarks;

/// <summary>
/// Evidence for a proposed Core change: <see cref="CandidateMask.NthAllowed"/> clears bits one at a time (O(rank)),
/// which dominates masked PowerOfTwoChoices picks; BMI2 PDEP selects the rank-th set bit of a word in O(1).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class MaskSelectBenchmarks
{
    private readonly ulong[] _words = [~((1UL << 7) | (1UL << 21))];
    private int _rank;

    [Benchmark(Baseline = true, Description = "CandidateMask.NthAllowed (bit-clear loop), 64 candidates")]
    public int NthAllowedLoop()
    {
        var mask = new CandidateMask(_words.AsSpan(), 64, allowAll: false);
        _words[0] = ~((1UL << 7) | (1UL << 21));
        _rank = (_rank + 17) % 62;
        return mask.NthAllowed(_rank);
    }

    [Benchmark(Description = "PDEP select-in-word, 64 candidates")]
    public int NthAllowedPdep()
    {
        ulong word = _words[0];
        _rank = (_rank + 17) % 62;
        return Bmi2.X64.IsSupported
            ? BitOperations.TrailingZeroCount(Bmi2.X64.ParallelBitDeposit(1UL << _rank, word))
            : -1;
    }
}
