using System.Buffers;
using System.Collections.Frozen;
using System.Text;

namespace Loadwise.AotProxy.Forwarding;

/// <summary>Which headers stop at this hop (RFC 9110 section 7.6.1) and which the proxy sets itself.</summary>
internal static class HeaderRules
{
    /// <summary>Connection-specific headers: never forwarded in either direction.</summary>
    private static readonly FrozenSet<string> HopByHop = FrozenSet.ToFrozenSet(
        ["Connection", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
            // Kestrel has already answered "Expect: 100-continue" to the client; forwarding it would make HttpClient wait again.
            "Expect"],
        StringComparer.OrdinalIgnoreCase);

    /// <summary>Request headers the proxy writes itself (Host by policy, X-Forwarded-* by the trust rules).</summary>
    private static readonly FrozenSet<string> SetByProxy = FrozenSet.ToFrozenSet(
        ["Host", ForwardedHeaders.ForwardedFor, ForwardedHeaders.ForwardedProto, ForwardedHeaders.ForwardedHost],
        StringComparer.OrdinalIgnoreCase);

    // Span lookups, so that names read off the wire are checked without making strings.
    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> HopByHopSpans = HopByHop.GetAlternateLookup<ReadOnlySpan<char>>();
    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> SetByProxySpans = SetByProxy.GetAlternateLookup<ReadOnlySpan<char>>();

    private static readonly SearchValues<char> ListSeparators = SearchValues.Create(", \t");

    /// <summary>The first letters of the fixed hop-by-hop names, and P for any <c>Proxy-*</c>.</summary>
    private static readonly SearchValues<byte> HopByHopInitials = SearchValues.Create(
        [.. HopByHop.SelectMany(static name => new[] { (byte)char.ToUpperInvariant(name[0]), (byte)char.ToLowerInvariant(name[0]) }), (byte)'P', (byte)'p']);

    /// <summary>Bit n set when a fixed hop-by-hop name is n characters long (all are shorter than 64).</summary>
    private static readonly ulong HopByHopLengths = HopByHop.Aggregate(0UL, static (bits, name) => bits | (1UL << name.Length));

    /// <summary>The longest header name checked on the stack; longer ones (rare) are decoded into a string.</summary>
    private const int StackNameLength = 128;

    /// <summary>Returns true when a request header must not be copied upstream as it is.</summary>
    public static bool SkipRequestHeader(ReadOnlySpan<char> name, string? connectionHeader, bool handleForwarded) =>
        IsHopByHop(name, connectionHeader)
        || (handleForwarded ? SetByProxySpans.Contains(name) : name.Equals("Host", StringComparison.OrdinalIgnoreCase));

    /// <summary>Returns true when a request header name read off the wire (ASCII) must not be copied upstream as it is.</summary>
    public static bool SkipRequestHeader(ReadOnlySpan<byte> name, string? connectionHeader, bool handleForwarded) =>
        SkipRequestHeader(Decode(name, stackalloc char[StackNameLength]), connectionHeader, handleForwarded);

    /// <summary>Returns true for a hop-by-hop header: a fixed one, any <c>Proxy-*</c>, or one named by <c>Connection</c>.</summary>
    public static bool IsHopByHop(ReadOnlySpan<char> name, string? connectionHeader) =>
        HopByHopSpans.Contains(name)
        || name.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase)
        || (connectionHeader is not null && ListContains(connectionHeader, name));

    /// <summary>Returns true for a hop-by-hop header whose name was read off the wire (ASCII).</summary>
    public static bool IsHopByHop(ReadOnlySpan<byte> name, string? connectionHeader)
    {
        if (connectionHeader is null && !MayBeFixedHopByHop(name))
        {
            return false;
        }

        return IsHopByHop(Decode(name, stackalloc char[StackNameLength]), connectionHeader);
    }

    /// <summary>
    /// Settles most names off the wire without a lookup: by the first letter (Server, Date, Last-Modified...), then by
    /// the length (Content-Type, Content-Length, Cache-Control...). Only <c>Proxy-*</c> names pass on their letter alone.
    /// </summary>
    private static bool MayBeFixedHopByHop(ReadOnlySpan<byte> name) =>
        !name.IsEmpty && HopByHopInitials.Contains(name[0])
        && ((name.Length < 64 && (HopByHopLengths & (1UL << name.Length)) != 0) || name[0] is (byte)'P' or (byte)'p');

    /// <summary>A header name read off the wire as characters: in <paramref name="buffer"/>, or a new array for the rare name longer than it.</summary>
    private static ReadOnlySpan<char> Decode(ReadOnlySpan<byte> name, Span<char> buffer) =>
        name.Length <= buffer.Length ? buffer[..Encoding.Latin1.GetChars(name, buffer)] : Encoding.Latin1.GetString(name);

    /// <summary>Returns true when a comma-separated token list (a Connection header) contains <paramref name="token"/>.</summary>
    public static bool ListContains(ReadOnlySpan<char> list, ReadOnlySpan<char> token)
    {
        while (!list.IsEmpty)
        {
            int start = list.IndexOfAnyExcept(ListSeparators);
            if (start < 0)
            {
                return false;
            }

            list = list[start..];
            int end = list.IndexOfAny(ListSeparators);
            ReadOnlySpan<char> item = end < 0 ? list : list[..end];
            if (item.Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            list = end < 0 ? default : list[end..];
        }

        return false;
    }
}
