using Loadwise.Internal;

namespace Loadwise;

/// <summary>
/// Picks a candidate uniformly at random. Needs no capability. Unseeded instances use a per-thread generator
/// (no shared state between cores, no <c>new System.Random</c> per call); a seed makes single-threaded sequences
/// reproducible.
/// </summary>
/// <remarks>
/// With a mask, a few rejection draws find an allowed candidate cheaply when most are allowed; after that the pick is
/// an exact uniform draw over the allowed set (population count + rank select), so the result stays uniform.
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <example>
/// <code>
/// var strategy = new Random&lt;string&gt;();
/// strategy.TrySelect(["a", "b", "c"], SelectionContext.Empty, out int index);
/// </code>
/// </example>
public sealed class Random<TNode> : ISelectionStrategy<TNode>
{
    private const int RejectionDraws = 4;
    private readonly RandomSource _random;

    /// <summary>Creates a uniform random strategy.</summary>
    /// <param name="seed">Optional seed for reproducible single-threaded sequences; null uses a per-thread generator.</param>
    /// <example><code>var strategy = new Random&lt;Backend&gt;(seed: 42);</code></example>
    public Random(ulong? seed = null) => _random = new RandomSource(seed);

    /// <inheritdoc/>
    public string Name => "Random";

    /// <inheritdoc/>
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index)
    {
        int count = candidates.Length;
        if (count == 0)
        {
            index = -1;
            return false;
        }

        if (!context.ValidateMask(count))
        {
            index = _random.NextInt(count);
            return true;
        }

        index = PickAllowed(_random, context.Mask, count);
        return index >= 0;
    }

    // Uniform over the allowed candidates: cheap rejection draws first, then an exact rank select.
    private static int PickAllowed(RandomSource random, CandidateMask mask, int count)
    {
        for (int draw = 0; draw < RejectionDraws; draw++)
        {
            int candidate = random.NextInt(count);
            if (mask.IsAllowed(candidate))
            {
                return candidate;
            }
        }

        int allowed = mask.CountAllowed();
        return allowed == 0 ? -1 : mask.NthAllowed(random.NextInt(allowed));
    }
}
