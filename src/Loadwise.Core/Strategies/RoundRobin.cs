using System.Runtime.CompilerServices;

namespace Loadwise;

/// <summary>
/// Cycles through the candidates in order with one lock-free atomic counter. Needs no capability, so it works over a
/// span of anything (<c>string[]</c>, records, structs).
/// </summary>
/// <remarks>
/// The counter is 64-bit, so it never wraps in practice and the cycle stays exact past <see cref="int.MaxValue"/>
/// picks. Masked-out candidates are skipped by scanning the mask's words for the next allowed bit, which allocates
/// nothing; the skipped turn goes to the next allowed candidate.
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
    /// <param name="start">The counter's first value; the first pick is <c>start % candidates.Length</c>.</param>
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
        index = (int)(ticket % (uint)count);
        if (context.ValidateMask(count))
        {
            index = context.Mask.NextAllowedWrapping(index);
            return index >= 0;
        }

        return true;
    }
}
