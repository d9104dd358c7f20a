using System.Runtime.CompilerServices;

namespace Loadwise;

/// <summary>
/// Everything a strategy may need to know about one pick besides the candidates: an optional hash key, an estimated
/// cost, a candidate mask and tags. It is a <c>ref struct</c> passed by <c>in</c>: building one costs nothing on the
/// heap, and the mask and tags point at the caller's (usually stack) memory.
/// </summary>
/// <remarks>
/// <c>default</c> (or <see cref="Empty"/>) means: no key, zero cost, every candidate allowed, no tags.
/// </remarks>
/// <example>
/// <code>
/// Span&lt;ulong&gt; bits = stackalloc ulong[CandidateMask.WordsFor(nodes.Length)];
/// var context = new SelectionContext
/// {
///     HashKey = StableHash.Hash(userId),
///     EstimatedCost = 1_200, // e.g. prompt tokens
///     Mask = new CandidateMask(bits, nodes.Length),
/// };
/// if (strategy.TrySelect(nodes, in context, out int index)) { /* route to nodes[index] */ }
/// </code>
/// </example>
public readonly ref struct SelectionContext
{
    private readonly ulong _hashKey;
    private readonly bool _hasHashKey;
    private readonly CandidateMask _mask;
    private readonly bool _hasMask;

    /// <summary>Gets a context with no key, no cost, no mask and no tags.</summary>
    /// <example><code>strategy.TrySelect(nodes, SelectionContext.Empty, out int index);</code></example>
    public static SelectionContext Empty => default;

    /// <summary>
    /// Gets the 64-bit hash key that key-affine strategies route by, or null for an unkeyed pick. Make one with
    /// <see cref="StableHash"/> (or <see cref="ForKey(string)"/>) so that it is the same in every process.
    /// </summary>
    /// <example><code>var context = new SelectionContext { HashKey = StableHash.Hash(sessionId) };</code></example>
    public ulong? HashKey
    {
        get => _hasHashKey ? _hashKey : null;
        init
        {
            _hasHashKey = value.HasValue;
            _hashKey = value.GetValueOrDefault();
        }
    }

    /// <summary>Gets the hash key without the nullable wrapper; read it only when <see cref="HasHashKey"/> is true.</summary>
    /// <example><code>if (context.HasHashKey) { ulong key = context.HashKeyValue; }</code></example>
    public ulong HashKeyValue => _hashKey;

    /// <summary>Gets whether the pick carries a hash key.</summary>
    /// <example><code>if (!context.HasHashKey) { /* fall back */ }</code></example>
    public bool HasHashKey => _hasHashKey;

    /// <summary>Gets the estimated cost of the request (tokens, bytes, ...); quota filters charge it at pick time.</summary>
    /// <example><code>var context = new SelectionContext { EstimatedCost = promptTokens };</code></example>
    public double EstimatedCost { get; init; }

    /// <summary>
    /// Gets the candidate mask. A default (empty) mask allows every candidate; a non-empty one must cover exactly as
    /// many candidates as the span passed to the strategy.
    /// </summary>
    /// <example><code>var context = new SelectionContext { Mask = mask };</code></example>
    public CandidateMask Mask
    {
        get => _mask;
        init
        {
            _mask = value;
            _hasMask = !value.Words.IsEmpty || value.Count != 0;
        }
    }

    /// <summary>Gets whether a mask is set (otherwise every candidate is allowed).</summary>
    /// <example><code>bool filtered = context.HasMask;</code></example>
    public bool HasMask
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _hasMask;
    }

    /// <summary>Gets the pick's tags: caller-owned key/value pairs, looked up without a dictionary.</summary>
    /// <example><code>var context = new SelectionContext { Tags = [new("region", "eu")] };</code></example>
    public ReadOnlySpan<SelectionTag> Tags { get; init; }

    /// <summary>Makes a keyed context from a string key, hashed with <see cref="StableHash.Hash(string)"/>.</summary>
    /// <param name="key">The routing key (user id, session id, ...).</param>
    /// <returns>A context with <see cref="HashKey"/> set.</returns>
    /// <example><code>var context = SelectionContext.ForKey("user-42");</code></example>
    public static SelectionContext ForKey(string key) => new() { HashKey = StableHash.Hash(key) };

    /// <summary>Makes a keyed context from raw bytes, hashed with <see cref="StableHash.Hash(ReadOnlySpan{byte})"/>.</summary>
    /// <param name="key">The routing key bytes.</param>
    /// <returns>A context with <see cref="HashKey"/> set.</returns>
    /// <example><code>var context = SelectionContext.ForKey("tenant-7"u8);</code></example>
    public static SelectionContext ForKey(ReadOnlySpan<byte> key) => new() { HashKey = StableHash.Hash(key) };

    /// <summary>Makes a keyed context from an integer key, hashed with <see cref="StableHash.Hash(long)"/>.</summary>
    /// <param name="key">The routing key.</param>
    /// <returns>A context with <see cref="HashKey"/> set.</returns>
    /// <example><code>var context = SelectionContext.ForKey(accountId);</code></example>
    public static SelectionContext ForKey(long key) => new() { HashKey = StableHash.Hash(key) };

    /// <summary>Looks up a tag by key (ordinal comparison, first match wins).</summary>
    /// <param name="key">The tag key.</param>
    /// <param name="value">The tag value when found.</param>
    /// <returns>True when the tag is present.</returns>
    /// <example><code>if (context.TryGetTag("region", out string? region)) { /* ... */ }</code></example>
    public bool TryGetTag(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value)
    {
        foreach (ref readonly SelectionTag tag in Tags)
        {
            if (string.Equals(tag.Key, key, StringComparison.Ordinal))
            {
                value = tag.Value;
                return true;
            }
        }

        value = null;
        return false;
    }

    /// <summary>Returns whether candidate <paramref name="index"/> is allowed by the mask (always true without one).</summary>
    /// <param name="index">A candidate index.</param>
    /// <returns>True when allowed.</returns>
    /// <example><code>bool ok = context.IsAllowed(0);</code></example>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsAllowed(int index) => !HasMask || _mask.IsAllowed(index);

    /// <summary>
    /// Checks that the mask (if any) covers exactly <paramref name="candidateCount"/> candidates. Every strategy calls
    /// this first, so that a mask built for another candidate set fails loudly instead of picking wrongly.
    /// </summary>
    /// <param name="candidateCount">The length of the candidate span.</param>
    /// <returns>True when a mask is set and must be honoured; false when every candidate is allowed.</returns>
    /// <exception cref="ArgumentException">The mask covers a different number of candidates.</exception>
    /// <example><code>bool masked = context.ValidateMask(nodes.Length);</code></example>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool ValidateMask(int candidateCount)
    {
        if (!HasMask)
        {
            return false;
        }

        if (_mask.Count != candidateCount)
        {
            ThrowHelper.ThrowMaskCountMismatch("context", _mask.Count, candidateCount);
        }

        return true;
    }
}

/// <summary>A key/value tag carried by a <see cref="SelectionContext"/>.</summary>
/// <param name="Key">The tag key.</param>
/// <param name="Value">The tag value.</param>
/// <example><code>SelectionTag tag = new("region", "eu-west");</code></example>
public readonly record struct SelectionTag(string Key, string Value);
