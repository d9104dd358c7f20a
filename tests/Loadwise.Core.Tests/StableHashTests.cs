using System.Text;

namespace Loadwise.Tests;

public class StableHashTests
{
    // Published XXH64 (seed 0) test vectors: if these change, every consistent-hash mapping in the field moves.
    [Theory]
    [InlineData("", 0xEF46DB3751D8E999UL)]
    [InlineData("a", 0xD24EC4F1A98C6E5BUL)]
    [InlineData("abc", 0x44BC2CF5AD770999UL)]
    [InlineData("Nobody inspects the spammish repetition", 0xFBCEA83C8A378BF1UL)]
    public void Hash_matches_published_xxh64_vectors(string text, ulong expected)
    {
        Assert.Equal(expected, StableHash.Hash(Encoding.UTF8.GetBytes(text)));
        Assert.Equal(expected, StableHash.Hash(text));
    }

    [Fact]
    public void Long_inputs_take_the_32_byte_stripe_path_and_match_the_byte_hash()
    {
        string text = new('x', 5000);
        Assert.Equal(StableHash.Hash(Encoding.UTF8.GetBytes(text)), StableHash.Hash(text));
        string emoji = string.Concat(Enumerable.Repeat("héllo-🌍-", 40));
        Assert.Equal(StableHash.Hash(Encoding.UTF8.GetBytes(emoji)), StableHash.Hash(emoji.AsSpan()));
    }

    [Fact]
    public void Integers_hash_as_eight_little_endian_bytes()
    {
        byte[] bytes = BitConverter.GetBytes(0x0123456789ABCDEFUL);
        Assert.True(BitConverter.IsLittleEndian);
        Assert.Equal(StableHash.Hash(bytes), StableHash.Hash(0x0123456789ABCDEFUL));
        Assert.Equal(StableHash.Hash(5L), StableHash.Hash(5UL));
        Assert.Equal(StableHash.Hash(5L), StableHash.OfId(5));
        Assert.Equal(StableHash.Hash(-1L), StableHash.OfId(-1));
        Assert.Equal(StableHash.Hash("id-7"), StableHash.OfId("id-7"));
    }

    [Fact]
    public void Guid_hashes_its_sixteen_byte_layout()
    {
        var id = Guid.Parse("6f9619ff-8b86-d011-b42d-00cf4fc964ff");
        Assert.Equal(StableHash.Hash(id.ToByteArray()), StableHash.Hash(id));
        Assert.Equal(StableHash.Hash(id), StableHash.OfId(id));
    }

    private readonly record struct Custom(int Value) : IStableHashable
    {
        public ulong GetStableHash() => (ulong)Value * 31;
    }

    private readonly record struct Opaque(int Value);

    [Fact]
    public void Custom_ids_use_IStableHashable_and_unknown_types_get_a_clear_error()
    {
        Assert.Equal(31UL * 4, StableHash.OfId(new Custom(4)));
        var error = Assert.Throws<NotSupportedException>(() => StableHash.OfId(new Opaque(1)));
        Assert.Contains("IStableHashable", error.Message);
        Assert.Contains("Opaque", error.Message);
    }

    [Fact]
    public void Combine_is_the_hash_of_both_values_little_endian()
    {
        byte[] bytes = [.. BitConverter.GetBytes(1UL), .. BitConverter.GetBytes(2UL)];
        Assert.Equal(StableHash.Hash(bytes), StableHash.Combine(1, 2));
    }
}
