using System.Runtime.CompilerServices;

namespace Loadwise.Internal;

internal static class FilterGuard
{
    /// <summary>A filter's mask must cover exactly its candidates; anything else is a caller bug, reported loudly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void EnsureMatches(CandidateMask mask, int candidateCount)
    {
        if (mask.Count != candidateCount)
        {
            ThrowHelper.ThrowMaskCountMismatch(nameof(mask), mask.Count, candidateCount);
        }
    }
}
