using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;

namespace Loadwise;

/// <summary>
/// A stable 64-bit hash: XXH64 with seed 0, over UTF-8 for strings and 8 little-endian bytes for integers.
/// The same input gives the same value in every process, on every machine and in every Loadwise version, which
/// is what makes <see cref="ConsistentHash{TNode, TId, TAccessor}"/> keep a key on the same node across restarts.
/// (<see cref="string.GetHashCode()"/> is randomised per process and must never be used for this.)
/// </summary>
/// <example>
/// <code>
/// ulong key = StableHash.Hash("user-42");
/// var context = new SelectionContext { HashKey = key };
/// </code>
/// </example>
public static class StableHash
{
    private const ulong Prime1 = 0x9E3779B185EBCA87UL;
    private const ulong Prime2 = 0xC2B2AE3D27D4EB4FUL;
    private const ulong Prime3 = 0x165667B19E3779F9UL;
    private const ulong Prime4 = 0x85EBCA77C2B2AE63UL;
    private const ulong Prime5 = 0x27D4EB2F165667C5UL;
    private const int StackUtf8Limit = 512;

    /// <summary>Hashes raw bytes with XXH64 (seed 0).</summary>
    /// <param name="data">The bytes to hash.</param>
    /// <returns>The 64-bit hash.</returns>
    /// <example><code>ulong h = StableHash.Hash("abc"u8); // 0x44BC2CF5AD770999</code></example>
    public static ulong Hash(ReadOnlySpan<byte> data)
    {
        int length = data.Length;
        int offset = 0;
        ulong hash;
        if (length >= 32)
        {
            ulong v1 = unchecked(Prime1 + Prime2);
            ulong v2 = Prime2;
            ulong v3 = 0;
            ulong v4 = unchecked(0 - Prime1);
            int limit = length - 32;
            do
            {
                v1 = Round(v1, BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(offset)));
                v2 = Round(v2, BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(offset + 8)));
                v3 = Round(v3, BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(offset + 16)));
                v4 = Round(v4, BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(offset + 24)));
                offset += 32;
            }
            while (offset <= limit);

            hash = BitOperations.RotateLeft(v1, 1) + BitOperations.RotateLeft(v2, 7)
                 + BitOperations.RotateLeft(v3, 12) + BitOperations.RotateLeft(v4, 18);
            hash = MergeRound(hash, v1);
            hash = MergeRound(hash, v2);
            hash = MergeRound(hash, v3);
            hash = MergeRound(hash, v4);
        }
        else
        {
            hash = Prime5;
        }

        hash += (ulong)length;
        while (offset + 8 <= length)
        {
            hash ^= Round(0, BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(offset)));
            hash = (BitOperations.RotateLeft(hash, 27) * Prime1) + Prime4;
            offset += 8;
        }

        if (offset + 4 <= length)
        {
            hash ^= BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(offset)) * Prime1;
            hash = (BitOperations.RotateLeft(hash, 23) * Prime2) + Prime3;
            offset += 4;
        }

        while (offset < length)
        {
            hash ^= data[offset] * Prime5;
            hash = BitOperations.RotateLeft(hash, 11) * Prime1;
            offset++;
        }

        return Avalanche(hash);
    }

    /// <summary>Hashes the UTF-8 encoding of a string (invalid surrogates become U+FFFD first).</summary>
    /// <param name="value">The string to hash.</param>
    /// <returns>The 64-bit hash.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is null.</exception>
    /// <example><code>ulong h = StableHash.Hash("user-42");</code></example>
    public static ulong Hash(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return Hash(value.AsSpan());
    }

    /// <summary>Hashes the UTF-8 encoding of a run of characters, without allocating.</summary>
    /// <param name="value">The characters to hash.</param>
    /// <returns>The 64-bit hash; equal to <see cref="Hash(string)"/> of the same text.</returns>
    /// <example><code>ulong h = StableHash.Hash("session=abc".AsSpan(8));</code></example>
    public static ulong Hash(ReadOnlySpan<char> value)
    {
        int maxBytes = value.Length * 3;
        if (maxBytes <= StackUtf8Limit)
        {
            Span<byte> buffer = stackalloc byte[StackUtf8Limit];
            int written = Encoding.UTF8.GetBytes(value, buffer);
            return Hash(buffer[..written]);
        }

        return HashLongText(value);
    }

    /// <summary>Hashes a signed integer as its 8 little-endian bytes (so 5 and 5L hash alike).</summary>
    /// <param name="value">The integer to hash.</param>
    /// <returns>The 64-bit hash.</returns>
    /// <example><code>ulong h = StableHash.Hash(42L);</code></example>
    public static ulong Hash(long value) => Hash(unchecked((ulong)value));

    /// <summary>Hashes an unsigned integer as its 8 little-endian bytes.</summary>
    /// <param name="value">The integer to hash.</param>
    /// <returns>The 64-bit hash.</returns>
    /// <example><code>ulong h = StableHash.Hash(42UL);</code></example>
    public static ulong Hash(ulong value)
    {
        // The 8-byte tail of XXH64, unrolled: equal to Hash(ReadOnlySpan<byte>) of the little-endian bytes.
        ulong hash = Prime5 + 8;
        hash ^= Round(0, value);
        hash = (BitOperations.RotateLeft(hash, 27) * Prime1) + Prime4;
        return Avalanche(hash);
    }

    /// <summary>Hashes a GUID as its 16-byte little-endian layout (<see cref="Guid.TryWriteBytes(Span{byte})"/>).</summary>
    /// <param name="value">The GUID to hash.</param>
    /// <returns>The 64-bit hash.</returns>
    /// <example><code>ulong h = StableHash.Hash(Guid.Parse("6f9619ff-8b86-d011-b42d-00cf4fc964ff"));</code></example>
    public static ulong Hash(Guid value)
    {
        Span<byte> bytes = stackalloc byte[16];
        value.TryWriteBytes(bytes);
        return Hash(bytes);
    }

    /// <summary>
    /// Hashes a node identity. Supported: <see cref="string"/>, the built-in integer types, <see cref="Guid"/>, and any
    /// type implementing <see cref="IStableHashable"/>.
    /// </summary>
    /// <typeparam name="TId">The identity type.</typeparam>
    /// <param name="id">The identity.</param>
    /// <returns>The 64-bit hash.</returns>
    /// <exception cref="NotSupportedException">The type has no stable hash; the message says how to give it one.</exception>
    /// <example><code>ulong h = StableHash.OfId("10.0.0.1:8080");</code></example>
    public static ulong OfId<TId>(TId id)
        where TId : IEquatable<TId>
    {
        // typeof checks on a generic parameter are folded away by the JIT for value types.
        if (typeof(TId) == typeof(int)) return Hash((long)Unsafe.As<TId, int>(ref id));
        if (typeof(TId) == typeof(long)) return Hash(Unsafe.As<TId, long>(ref id));
        if (typeof(TId) == typeof(uint)) return Hash((ulong)Unsafe.As<TId, uint>(ref id));
        if (typeof(TId) == typeof(ulong)) return Hash(Unsafe.As<TId, ulong>(ref id));
        if (typeof(TId) == typeof(short)) return Hash((long)Unsafe.As<TId, short>(ref id));
        if (typeof(TId) == typeof(ushort)) return Hash((ulong)Unsafe.As<TId, ushort>(ref id));
        if (typeof(TId) == typeof(byte)) return Hash((ulong)Unsafe.As<TId, byte>(ref id));
        if (typeof(TId) == typeof(sbyte)) return Hash((long)Unsafe.As<TId, sbyte>(ref id));
        if (typeof(TId) == typeof(Guid)) return Hash(Unsafe.As<TId, Guid>(ref id));
        if (id is string text) return Hash(text);
        if (id is IStableHashable hashable) return hashable.GetStableHash();
        if (id is null) ThrowHelper.ThrowArgumentNull(nameof(id));
        return ThrowHelper.ThrowUnstableIdType<ulong>(typeof(TId));
    }

    /// <summary>Mixes two 64-bit values into one (XXH64 of their 16 little-endian bytes).</summary>
    /// <param name="first">The first value.</param>
    /// <param name="second">The second value.</param>
    /// <returns>The combined hash.</returns>
    /// <example><code>ulong point = StableHash.Combine(StableHash.Hash("node-a"), 7);</code></example>
    public static ulong Combine(ulong first, ulong second)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, first);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[8..], second);
        return Hash(bytes);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong HashLongText(ReadOnlySpan<char> value)
    {
        byte[] rented = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(value.Length));
        try
        {
            int written = Encoding.UTF8.GetBytes(value, rented);
            return Hash(rented.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Round(ulong accumulator, ulong input)
    {
        accumulator += input * Prime2;
        accumulator = BitOperations.RotateLeft(accumulator, 31);
        return accumulator * Prime1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong MergeRound(ulong accumulator, ulong value)
    {
        accumulator ^= Round(0, value);
        return (accumulator * Prime1) + Prime4;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Avalanche(ulong hash)
    {
        hash ^= hash >> 33;
        hash *= Prime2;
        hash ^= hash >> 29;
        hash *= Prime3;
        hash ^= hash >> 32;
        return hash;
    }
}

/// <summary>
/// Lets a custom identity type take part in stable hashing (consistent hashing and fingerprints).
/// The value must depend only on the identity's content, never on process state.
/// </summary>
/// <example>
/// <code>
/// public readonly record struct ShardId(string Region, int Index) : IStableHashable
/// {
///     public ulong GetStableHash() =&gt; StableHash.Combine(StableHash.Hash(Region), (ulong)Index);
/// }
/// </code>
/// </example>
public interface IStableHashable
{
    /// <summary>Returns a 64-bit hash that is the same in every process for equal values.</summary>
    /// <returns>The stable hash.</returns>
    /// <example><code>ulong h = shard.GetStableHash();</code></example>
    ulong GetStableHash();
}
