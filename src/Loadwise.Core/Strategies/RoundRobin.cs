using System.Runtime.CompilerServices;

namespace Loadwise;

/// <summary>
/// Cycles through the candidates in order with one lock-free atomic counter. Needs no capability, so it works over a
/// span of anything (<c>string[]</c>, records, structs).
/// </summary>
/// <remarks>
/// The counter is 64-bit, so it never wraps in practice and the cycle stays exact past <see cref="int.MaxValue"/>
/// picks. With a mask only the allowed candidates take turns, as nginx and HAProxy count only available servers: the
/// counter modulo the number of allowed candidates is a rank, and the candidate of that rank is found through the
/// mask's word population counts (no allocation). A masked candidate's turns so spread evenly over the others: with
/// 4 candidates and one masked, each of the other 3 takes exactly one of every 3 picks.
/// </remarks>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <example>
/// <code>
/// var strategy = new RoundRobin&lt;string&gt;();
/// string[] backends = ["10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"];
/// strategy.TrySelect(backends, SelectionContext.Empty, out int index); // 0, then 1, 2, 0, ...
/// </code>
/// </example>
public sealed class RoundRobin<TNode> : ISelectionStrategy<TNode>
{
    private ulong _next;

    /// <summary>Creates a round robin that starts at the first candidate.</summary>
    /// <example><code>var strategy = new RoundRobin&lt;Backend&gt;();</code></example>
    public RoundRobin()
    {
    }

    /// <summary>Creates a round robin whose counter starts at <paramref name="start"/> (tests use this to cross overflow boundaries).</summary>
    /// <param name="start">The counter's first value; the first pick is <c>start % candidates.Length</c> (of the allowed candidates, under a mask).</param>
    /// <example><code>var strategy = new RoundRobin&lt;string&gt;(start: int.MaxValue);</code></example>
    public RoundRobin(ulong start) => _next = start;

    /// <inheritdoc/>
    public string Name => "RoundRobin";

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TrySelect(ReadOnlySpan<TNode> candidates, in SelectionContext context, out int index)
    {
        int count = candidates.Length;
        if (count == 0)
        {
            index = -1;
            return false;
        }

        ulong ticket = Interlocked.Increment(ref _next) - 1;
        if (context.ValidateMask(count))
        {
            // Skipping to the next allowed index instead would hand a masked candidate's every turn to its successor.
            int allowed = context.Mask.CountAllowed();
            index = allowed == 0 ? -1 : context.Mask.NthAllowed((int)(ticket % (uint)allowed));
            return index >= 0;
        }

        index = (int)(ticket % (uint)count);
        return true;
    }
}
