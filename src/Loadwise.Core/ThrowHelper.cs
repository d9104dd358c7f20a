using System.Diagnostics.CodeAnalysis;

namespace Loadwise;

// Throws live out of line so that hot paths stay small enough to inline.
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowArgumentNull(string paramName) => throw new ArgumentNullException(paramName);

    [DoesNotReturn]
    public static void ThrowIndexOutOfRange(string paramName, int index, int count) =>
        throw new ArgumentOutOfRangeException(paramName, index, $"Index {index} is outside the mask's {count} candidates; use 0..{count - 1}.");

    [DoesNotReturn]
    public static T ThrowIndexOutOfRange<T>(string paramName, int index, int count) =>
        throw new ArgumentOutOfRangeException(paramName, index, $"Index {index} is outside the mask's {count} candidates; use 0..{count - 1}.");

    [DoesNotReturn]
    public static void ThrowMaskStorageTooSmall(int words, int needed, int count) =>
        throw new ArgumentException($"Mask storage has {words} words but {count} candidates need {needed}; allocate CandidateMask.WordsFor({count}) words.", "storage");

    [DoesNotReturn]
    public static void ThrowMaskCountMismatch(string paramName, int maskCount, int candidateCount) =>
        throw new ArgumentException($"The candidate mask covers {maskCount} candidates but {candidateCount} were given; build the mask with new CandidateMask(storage, candidates.Length).", paramName);

    [DoesNotReturn]
    public static T ThrowUnstableIdType<T>(Type idType) =>
        throw new NotSupportedException($"Node id type '{idType}' has no stable hash. Use string, an integer type or Guid as the id, or implement {nameof(IStableHashable)} on '{idType.Name}'.");
}
