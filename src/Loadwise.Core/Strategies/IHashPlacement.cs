using System.Runtime.CompilerServices;

namespace Loadwise;

/// <summary>
/// A key-affine strategy whose placement can be probed: <see cref="Locate"/> returns the node a key lands on at probe
/// 0 (its home node) and at further probes (pseudo-random jumps derived from the key). Wrappers that must send a key
/// elsewhere, such as <see cref="BoundedLoad{TNode, TPlacement, TLoads}"/>, walk these probes, so every key follows
/// the same jump sequence in every process and overflow spreads over many nodes instead of one neighbour.
/// </summary>
/// <typeparam name="TNode">The candidate type.</typeparam>
/// <example>
/// <code>
/// IHashPlacement&lt;Backend&gt; placement = Maglev.For&lt;Backend, string&gt;();
/// int home = placement.Locate(backends, StableHash.Hash("user-42"), probe: 0);
/// int firstJump = placement.Locate(backends, StableHash.Hash("user-42"), probe: 1);
/// </code>
/// </example>
public interface IHashPlacement<TNode> : ISelectionStrategy<TNode>
{
    /// <summary>
    /// Returns the node that <paramref name="hashKey"/> lands on at probe <paramref name="probe"/>, ignoring masks; -1
    /// when no node can own a key (an empty set, or every weight 0). Probe 0 is the node an unmasked
    /// <see cref="ISelectionStrategy{TNode}.TrySelect"/> returns for the same key.
    /// </summary>
    /// <param name="candidates">The candidates; a changed set is noticed and the placement rebuilt, as for a pick.</param>
    /// <param name="hashKey">The key, as carried by <see cref="SelectionContext.HashKey"/>.</param>
    /// <param name="probe">0 for the home node; 1, 2, ... for the key's successive jumps.</param>
    /// <returns>The owning index, or -1.</returns>
    /// <example><code>int home = placement.Locate(nodes, key, 0);</code></example>
    int Locate(ReadOnlySpan<TNode> candidates, ulong hashKey, int probe);
}

/// <summary>The one definition of a key's jump sequence, shared by every <see cref="IHashPlacement{TNode}"/>.</summary>
internal static class HashProbe
{
    /// <summary>How many jumps a masked or bounded pick tries before it falls back to a scan.</summary>
    public const int MaxJumps = 32;

    private const ulong Gamma = 0x9E3779B97F4A7C15UL;

    // Probe 0 is the plain re-mixed key; probe p re-mixes the key advanced by p golden-ratio steps, an independent
    // position for each p (the mixer is a bijection with full avalanche).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Position(ulong hashKey, int probe) => Internal.RandomSource.Mix(hashKey + ((ulong)probe * Gamma));
}
