using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Loadwise;

/// <summary>
/// A bitmask over candidate indices: bit <c>i</c> set means candidate <c>i</c> may be picked. It works for any number
/// of candidates, lives in caller-provided storage (a <c>stackalloc</c> for small sets) and never allocates.
/// Filters narrow it; strategies read it through <see cref="SelectionContext.Mask"/>.
/// </summary>
/// <remarks>
/// Bits past <see cref="Count"/> are kept at zero, so word-level operations (population count, next set bit) need no
/// edge handling. The storage must hold at least <see cref="WordsFor(int)"/> words.
/// </remarks>
/// <example>
/// <code>
/// Span&lt;ulong&gt; bits = stackalloc ulong[CandidateMask.WordsFor(nodes.Length)];
/// var mask = new CandidateMask(bits, nodes.Length);   // everything allowed
/// mask.Exclude(failedIndex);                          // e.g. retry on another node
/// var context = new SelectionContext { Mask = mask };
/// </code>
/// </example>
public readonly ref struct CandidateMask
{
    private readonly Span<ulong> _words;
    private readonly int _count;

    /// <summary>Creates a mask over <paramref name="count"/> candidates in <paramref name="storage"/>.</summary>
    /// <param name="storage">At least <see cref="WordsFor(int)"/>(<paramref name="count"/>) words; its contents are overwritten.</param>
    /// <param name="count">The number of candidates the mask covers.</param>
    /// <param name="allowAll">True to start with every candidate allowed, false to start with none.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="storage"/> is too small.</exception>
    /// <example><code>var mask = new CandidateMask(stackalloc ulong[2], 100, allowAll: false);</code></example>
    public CandidateMask(Span<ulong> storage, int count, bool allowAll = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int words = WordsFor(count);
        if (storage.Length < words)
        {
            ThrowHelper.ThrowMaskStorageTooSmall(storage.Length, words, count);
        }

        _words = storage[..words];
        _count = count;
        if (allowAll)
        {
            AllowAll();
        }
        else
        {
            _words.Clear();
        }
    }

    /// <summary>Returns how many 64-bit words a mask over <paramref name="count"/> candidates needs.</summary>
    /// <param name="count">The number of candidates.</param>
    /// <returns>The word count, <c>ceil(count / 64)</c>.</returns>
    /// <example><code>Span&lt;ulong&gt; bits = stackalloc ulong[CandidateMask.WordsFor(65)]; // 2 words</code></example>
    public static int WordsFor(int count) => (int)(((uint)count + 63u) >> 6);

    /// <summary>Gets the number of candidates this mask covers.</summary>
    /// <example><code>Debug.Assert(mask.Count == nodes.Length);</code></example>
    public int Count => _count;

    /// <summary>Gets the mask's words (bit <c>i % 64</c> of word <c>i / 64</c> is candidate <c>i</c>).</summary>
    /// <example><code>int allowed = 0; foreach (ulong w in mask.Words) allowed += BitOperations.PopCount(w);</code></example>
    public ReadOnlySpan<ulong> Words => _words;

    /// <summary>Returns whether candidate <paramref name="index"/> is allowed.</summary>
    /// <param name="index">A candidate index in <c>[0, Count)</c>.</param>
    /// <returns>True when allowed.</returns>
    /// <example><code>if (mask.IsAllowed(2)) { /* ... */ }</code></example>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsAllowed(int index)
    {
        if ((uint)index >= (uint)_count)
        {
            ThrowHelper.ThrowIndexOutOfRange(nameof(index), index, _count);
        }

        return (_words[index >> 6] & (1UL << index)) != 0;
    }

    /// <summary>Allows candidate <paramref name="index"/>.</summary>
    /// <param name="index">A candidate index in <c>[0, Count)</c>.</param>
    /// <example><code>mask.Allow(3);</code></example>
    public void Allow(int index)
    {
        if ((uint)index >= (uint)_count)
        {
            ThrowHelper.ThrowIndexOutOfRange(nameof(index), index, _count);
        }

        _words[index >> 6] |= 1UL << index;
    }

    /// <summary>Excludes candidate <paramref name="index"/>.</summary>
    /// <param name="index">A candidate index in <c>[0, Count)</c>.</param>
    /// <example><code>mask.Exclude(failedIndex);</code></example>
    public void Exclude(int index)
    {
        if ((uint)index >= (uint)_count)
        {
            ThrowHelper.ThrowIndexOutOfRange(nameof(index), index, _count);
        }

        _words[index >> 6] &= ~(1UL << index);
    }

    /// <summary>Allows every candidate.</summary>
    /// <example><code>mask.AllowAll();</code></example>
    public void AllowAll()
    {
        _words.Fill(ulong.MaxValue);
        ClearTail();
    }

    /// <summary>Excludes every candidate.</summary>
    /// <example><code>mask.ExcludeAll();</code></example>
    public void ExcludeAll() => _words.Clear();

    /// <summary>Keeps only candidates that are allowed in both masks (logical AND).</summary>
    /// <param name="other">A mask over the same number of candidates.</param>
    /// <example><code>healthy.IntersectWith(inRegion);</code></example>
    public void IntersectWith(CandidateMask other)
    {
        EnsureSameCount(other);
        for (int i = 0; i < _words.Length; i++)
        {
            _words[i] &= other._words[i];
        }
    }

    /// <summary>Allows candidates allowed in either mask (logical OR).</summary>
    /// <param name="other">A mask over the same number of candidates.</param>
    /// <example><code>primary.UnionWith(secondary);</code></example>
    public void UnionWith(CandidateMask other)
    {
        EnsureSameCount(other);
        for (int i = 0; i < _words.Length; i++)
        {
            _words[i] |= other._words[i];
        }
    }

    /// <summary>Flips every candidate: allowed becomes excluded and the reverse (logical NOT).</summary>
    /// <example><code>mask.Invert();</code></example>
    public void Invert()
    {
        for (int i = 0; i < _words.Length; i++)
        {
            _words[i] = ~_words[i];
        }

        ClearTail();
    }

    /// <summary>Copies this mask's bits into <paramref name="destination"/>.</summary>
    /// <param name="destination">A mask over the same number of candidates.</param>
    /// <example><code>mask.CopyTo(backup);</code></example>
    public void CopyTo(CandidateMask destination)
    {
        EnsureSameCount(destination);
        _words.CopyTo(destination._words);
    }

    /// <summary>Counts the allowed candidates.</summary>
    /// <returns>The number of set bits.</returns>
    /// <example><code>if (mask.CountAllowed() == 0) return Results.StatusCode(503);</code></example>
    public int CountAllowed()
    {
        int total = 0;
        foreach (ulong word in _words)
        {
            total += BitOperations.PopCount(word);
        }

        return total;
    }

    /// <summary>
    /// Enumerates the allowed indices in ascending order without allocating. Each word is copied before its bits are
    /// visited, so excluding the current index while enumerating is safe.
    /// </summary>
    /// <returns>An enumerator for <c>foreach</c>.</returns>
    /// <example><code>foreach (int i in mask.AllowedIndices()) { if (!Keep(nodes[i])) mask.Exclude(i); }</code></example>
    public AllowedIndexEnumerator AllowedIndices() => new(_words);

    /// <summary>Returns the first allowed index at or after <paramref name="start"/>, wrapping to 0 past the end.</summary>
    /// <remarks>
    /// Not a way to skip masked candidates in a rotation: every turn of a masked candidate would go to its successor.
    /// The strategies rank-select with <see cref="NthAllowed(int)"/> over <see cref="CountAllowed"/> instead.
    /// </remarks>
    /// <param name="start">Where to start looking, in <c>[0, Count)</c>.</param>
    /// <returns>The index, or -1 when nothing is allowed.</returns>
    /// <example><code>int next = mask.NextAllowedWrapping(lastPick + 1 == mask.Count ? 0 : lastPick + 1);</code></example>
    public int NextAllowedWrapping(int start)
    {
        if ((uint)start >= (uint)_count)
        {
            return _count == 0 ? -1 : ThrowHelper.ThrowIndexOutOfRange<int>(nameof(start), start, _count);
        }

        int wordIndex = start >> 6;
        ulong word = _words[wordIndex] & (ulong.MaxValue << start);
        for (int scanned = 0; scanned <= _words.Length; scanned++)
        {
            if (word != 0)
            {
                return (wordIndex << 6) + BitOperations.TrailingZeroCount(word);
            }

            wordIndex++;
            if (wordIndex == _words.Length)
            {
                wordIndex = 0;
            }

            word = _words[wordIndex];
        }

        return -1;
    }

    /// <summary>Returns the index of the <paramref name="rank"/>-th allowed candidate (0-based).</summary>
    /// <param name="rank">Which allowed candidate, in <c>[0, CountAllowed())</c>.</param>
    /// <returns>The candidate index, or -1 when fewer than <c>rank + 1</c> are allowed.</returns>
    /// <example><code>int third = mask.NthAllowed(2);</code></example>
    public int NthAllowed(int rank)
    {
        if (rank < 0)
        {
            return -1;
        }

        for (int w = 0; w < _words.Length; w++)
        {
            ulong word = _words[w];
            int bits = BitOperations.PopCount(word);
            if (rank < bits)
            {
                return (w << 6) + BitOperations.TrailingZeroCount(NthSetBit(word, rank));
            }

            rank -= bits;
        }

        return -1;
    }

    // pdep deposits a single 1 at the position of the rank-th set bit: one instruction instead of up to 63 loop steps.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong NthSetBit(ulong word, int rank)
    {
        if (Bmi2.X64.IsSupported)
        {
            return Bmi2.X64.ParallelBitDeposit(1UL << rank, word);
        }

        for (; rank > 0; rank--)
        {
            word &= word - 1;
        }

        return word & (0 - word);
    }

    private void ClearTail()
    {
        int tail = _count & 63;
        if (tail != 0)
        {
            _words[^1] &= (1UL << tail) - 1;
        }
    }

    private void EnsureSameCount(CandidateMask other)
    {
        if (other._count != _count)
        {
            ThrowHelper.ThrowMaskCountMismatch(nameof(other), other._count, _count);
        }
    }
}

/// <summary>Visits the allowed indices of a <see cref="CandidateMask"/>; returned by <see cref="CandidateMask.AllowedIndices"/>.</summary>
/// <example><code>foreach (int i in mask.AllowedIndices()) Console.WriteLine(i);</code></example>
public ref struct AllowedIndexEnumerator
{
    private readonly ReadOnlySpan<ulong> _words;
    private int _word;
    private ulong _bits;

    internal AllowedIndexEnumerator(ReadOnlySpan<ulong> words)
    {
        _words = words;
        _word = -1;
        _bits = 0;
        Current = -1;
    }

    /// <summary>Gets the current allowed index.</summary>
    /// <example><code>int i = enumerator.Current;</code></example>
    public int Current { get; private set; }

    /// <summary>Returns this enumerator, so that it works in <c>foreach</c>.</summary>
    /// <returns>This enumerator.</returns>
    /// <example><code>foreach (int i in mask.AllowedIndices()) { }</code></example>
    public readonly AllowedIndexEnumerator GetEnumerator() => this;

    /// <summary>Advances to the next allowed index.</summary>
    /// <returns>False when there are no more.</returns>
    /// <example><code>while (e.MoveNext()) Use(e.Current);</code></example>
    public bool MoveNext()
    {
        while (_bits == 0)
        {
            if (++_word >= _words.Length)
            {
                return false;
            }

            _bits = _words[_word];
        }

        Current = (_word << 6) + BitOperations.TrailingZeroCount(_bits);
        _bits &= _bits - 1;
        return true;
    }
}
