using System.Runtime.CompilerServices;

namespace Loadwise.Internal;

/// <summary>
/// Two distinct uniform samples from one 64-bit random number, for the power-of-two-choices strategies: the high half
/// gives the first from the pool, the low half the second from the pool less one, skipping past the first. Both steps
/// are branch-free (which sample comes first is a coin flip for the branch predictor).
/// </summary>
internal static class TwoSamples
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int First(ulong random, int pool) => RandomSource.Bounded(random, pool);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Second(ulong random, int pool, int first)
    {
        int second = (int)(((random & 0xFFFF_FFFFUL) * (ulong)(uint)(pool - 1)) >> 32);
        return second + (second >= first ? 1 : 0);
    }
}
