using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Loadwise.Internal;

/// <summary>
/// Vectorised scans over a contiguous buffer of scores (lower is better). Node loads are gathered into the buffer
/// first, with NaN and masked-out candidates stored as +infinity, so the SIMD loops need no special cases.
/// </summary>
internal static class ScoreScan
{
    /// <summary>Score buffers up to this many candidates live on the stack; larger ones are rented.</summary>
    public const int StackLimit = 256;

    /// <summary>Rents a buffer for more than <see cref="StackLimit"/> scores (the pool keeps it, so steady state allocates nothing).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static double[] Rent(int count) => ArrayPool<double>.Shared.Rent(count);

    public static void Return(double[]? rented)
    {
        if (rented is not null)
        {
            ArrayPool<double>.Shared.Return(rented);
        }
    }

    /// <summary>Sets the score of every masked-out candidate to +infinity, walking only the zero bits.</summary>
    public static void ExcludeMasked(Span<double> scores, CandidateMask mask)
    {
        ReadOnlySpan<ulong> words = mask.Words;
        for (int w = 0; w < words.Length; w++)
        {
            ulong excluded = ~words[w];
            int baseIndex = w << 6;
            int limit = Math.Min(64, scores.Length - baseIndex);
            if (limit < 64)
            {
                excluded &= (1UL << limit) - 1;
            }

            while (excluded != 0)
            {
                scores[baseIndex + System.Numerics.BitOperations.TrailingZeroCount(excluded)] = double.PositiveInfinity;
                excluded &= excluded - 1;
            }
        }
    }

    /// <summary>Returns the minimum of <paramref name="scores"/> (which must hold no NaN), or +infinity when empty.</summary>
    public static double Min(ReadOnlySpan<double> scores)
    {
        int i = 0;
        double min = double.PositiveInfinity;
        if (Vector256.IsHardwareAccelerated && scores.Length >= 16)
        {
            // Four accumulators break the min dependency chain so loads and compares overlap.
            ref double start = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(scores);
            Vector256<double> a0 = Vector256.Create(double.PositiveInfinity), a1 = a0, a2 = a0, a3 = a0;
            for (; i <= scores.Length - 16; i += 16)
            {
                a0 = Vector256.MinNative(a0, Vector256.LoadUnsafe(ref start, (nuint)i));
                a1 = Vector256.MinNative(a1, Vector256.LoadUnsafe(ref start, (nuint)(i + 4)));
                a2 = Vector256.MinNative(a2, Vector256.LoadUnsafe(ref start, (nuint)(i + 8)));
                a3 = Vector256.MinNative(a3, Vector256.LoadUnsafe(ref start, (nuint)(i + 12)));
            }

            Vector256<double> all = Vector256.MinNative(Vector256.MinNative(a0, a1), Vector256.MinNative(a2, a3));
            min = Math.Min(Math.Min(all[0], all[1]), Math.Min(all[2], all[3]));
        }

        for (; i < scores.Length; i++)
        {
            double value = scores[i];
            min = value < min ? value : min;
        }

        return min;
    }

    /// <summary>Returns the first index whose score equals <paramref name="value"/>, or -1.</summary>
    public static int IndexOf(ReadOnlySpan<double> scores, double value)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated && scores.Length >= 4)
        {
            ref double start = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(scores);
            Vector256<double> target = Vector256.Create(value);
            for (; i <= scores.Length - 4; i += 4)
            {
                uint hits = Vector256.Equals(Vector256.LoadUnsafe(ref start, (nuint)i), target).ExtractMostSignificantBits();
                if (hits != 0)
                {
                    return i + System.Numerics.BitOperations.TrailingZeroCount(hits);
                }
            }
        }

        for (; i < scores.Length; i++)
        {
            if (scores[i] == value)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Counts the scores at or below <paramref name="threshold"/>.</summary>
    public static int CountAtMost(ReadOnlySpan<double> scores, double threshold)
    {
        int count = 0;
        foreach (double score in scores)
        {
            count += score <= threshold ? 1 : 0;
        }

        return count;
    }

    /// <summary>Returns the index of the <paramref name="rank"/>-th score (0-based) at or below <paramref name="threshold"/>, or -1.</summary>
    public static int NthAtMost(ReadOnlySpan<double> scores, double threshold, int rank)
    {
        for (int i = 0; i < scores.Length; i++)
        {
            if (scores[i] <= threshold && rank-- == 0)
            {
                return i;
            }
        }

        return -1;
    }
}
