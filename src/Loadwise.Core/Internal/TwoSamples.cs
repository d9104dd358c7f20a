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

    /// <summary>
    /// Draws two distinct allowed candidates (the context's mask honoured) into <paramref name="first"/> and
    /// <paramref name="second"/>, or, when fewer than two are allowed, returns false with <paramref name="first"/> the
    /// only allowed index (or -1 for none) and draws no random number.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryDraw(RandomSource random, int count, in SelectionContext context, out int first, out int second)
    {
        bool masked = context.ValidateMask(count);
        int pool = masked ? context.Mask.CountAllowed() : count;
        if (pool < 2)
        {
            first = second = pool == 0 ? -1 : masked ? context.Mask.NthAllowed(0) : 0;
            return false;
        }

        ulong bits = random.NextUInt64();
        first = First(bits, pool);
        second = Second(bits, pool, first);
        if (masked)
        {
            first = context.Mask.NthAllowed(first);
            second = context.Mask.NthAllowed(second);
        }

        return true;
    }
}
