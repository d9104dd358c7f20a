using System.Buffers;
using System.Runtime.CompilerServices;

namespace Loadwise.Internal;

/// <summary>Scratch mask storage: callers stackalloc up to <see cref="StackWords"/> words and rent beyond that.</summary>
internal static class ScratchMask
{
    /// <summary>Masks up to this many words (32,768 candidates, 4 KiB of stack) are stackalloc'ed.</summary>
    public const int StackWords = 512;

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ulong[] Rent(int words) => ArrayPool<ulong>.Shared.Rent(words);

    public static void Return(ulong[]? rented)
    {
        if (rented is not null)
        {
            ArrayPool<ulong>.Shared.Return(rented);
        }
    }

    /// <summary>Excludes from <paramref name="mask"/> every candidate whose bit is set in <paramref name="excluded"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ExcludeBits(CandidateMask mask, ReadOnlySpan<ulong> excluded)
    {
        for (int w = 0; w < excluded.Length; w++)
        {
            ulong bits = excluded[w];
            while (bits != 0)
            {
                mask.Exclude((w << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits));
                bits &= bits - 1;
            }
        }
    }
}
