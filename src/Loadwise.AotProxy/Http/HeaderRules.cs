using System.Buffers;
using System.Collections.Frozen;
using System.Text;

namespace Loadwise.AotProxy.Http;

/// <summary>Which headers stop at this hop (RFC 9110 section 7.6.1) and which the proxy sets itself.</summary>
internal static class HeaderRules
{
    /// <summary>Connection-specific headers: never forwarded in either direction.</summary>
    private static readonly string[] HopByHopNames =
    [
        "Connection", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",

        // Connection-specific by definition (RFC 7540 section 3.2.1; RFC 9113 section 3.1 retires the h2c upgrade it
        // belongs to), and the proxy never upgrades to h2c: dropped even when Connection does not name it.
        "HTTP2-Settings",

        // Kestrel has already answered "Expect: 100-continue" to the client; forwarding it would make HttpClient wait again.
        "Expect",

        // Not hop-by-hop, but CGI servers turn it into HTTP_PROXY, which HTTP libraries take as their proxy (httpoxy,
        // CVE-2016-5385); nginx's advice is to clear it.
        "Proxy",
    ];

    /// <summary>
    /// Names that must never reach a backend spelled with <c>_</c> for <c>-</c> either: CGI-style servers read
    /// <c>Transfer_Encoding</c> as <c>Transfer-Encoding</c>, so such a spelling would smuggle framing or hop-by-hop
    /// fields past the rules above (nginx drops every name with <c>_</c> by default).
    /// </summary>
    private static readonly HeaderNameSet UnderscoreSpellings = new([.. HopByHopNames, "Content-Length", "Host", "Content-Type"]);

    /// <summary>Request headers the proxy writes itself (Host by policy, X-Forwarded-* by the trust rules).</summary>
    private static readonly string[] SetByProxyNames = ["Host", ForwardedHeaders.ForwardedFor, ForwardedHeaders.ForwardedProto, ForwardedHeaders.ForwardedHost];

    // Span lookups, so that names from Kestrel's header dictionary are checked without making strings.
    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> HopByHopSpans =
        HopByHopNames.ToFrozenSet(StringComparer.OrdinalIgnoreCase).GetAlternateLookup<ReadOnlySpan<char>>();

    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> SetByProxySpans =
        SetByProxyNames.ToFrozenSet(StringComparer.OrdinalIgnoreCase).GetAlternateLookup<ReadOnlySpan<char>>();

    // The same names as ASCII, by length, for names read off the wire: the length picks the one or two candidates, with
    // no decoding and no hashing (a frozen set's span lookup goes through a generic virtual call per name).
    private static readonly byte[][][] HopByHopBytes = ByLength(HopByHopNames);
    private static readonly byte[][][] SetByProxyBytes = ByLength(SetByProxyNames);

    private static readonly SearchValues<char> ListSeparators = SearchValues.Create(", \t");

    /// <summary>The longest header name checked on the stack; longer ones (rare) are decoded into a string.</summary>
    private const int StackNameLength = 128;

    /// <summary>
    /// Returns true when a request header must not be copied upstream as it is: hop-by-hop, set by the proxy (Host, and
    /// X-Forwarded-* when <paramref name="handleForwarded"/>), or in <paramref name="untrusted"/>: the forwarding headers
    /// an untrusted peer may not send (null for a trusted peer).
    /// </summary>
    public static bool SkipRequestHeader(ReadOnlySpan<char> name, string? connectionHeader, bool handleForwarded, HeaderNameSet? untrusted) =>
        IsHopByHop(name, connectionHeader)
        || (handleForwarded ? SetByProxySpans.Contains(name) : name.Equals("Host", StringComparison.OrdinalIgnoreCase))
        || (untrusted is not null && untrusted.Contains(name))
        || (name.Contains('_') && UnderscoreSpellings.Contains(name));

    /// <summary>As <see cref="SkipRequestHeader(ReadOnlySpan{char}, string?, bool, HeaderNameSet?)"/>, for a name read off the wire (ASCII).</summary>
    public static bool SkipRequestHeader(ReadOnlySpan<byte> name, string? connectionHeader, bool handleForwarded, HeaderNameSet? untrusted) =>
        IsHopByHop(name, connectionHeader)
        || (handleForwarded ? IsOneOf(name, SetByProxyBytes) : (name.Length == 4 && Ascii.EqualsIgnoreCase(name, "Host"u8)))
        || (untrusted is not null && untrusted.Contains(name))
        || (name.Contains((byte)'_') && UnderscoreSpellings.Contains(name));

    /// <summary>Returns true for a hop-by-hop header: a fixed one, any <c>Proxy-*</c>, or one named by <c>Connection</c>.</summary>
    public static bool IsHopByHop(ReadOnlySpan<char> name, string? connectionHeader) =>
        HopByHopSpans.Contains(name)
        || name.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase)
        || (connectionHeader is not null && ListContains(connectionHeader, name));

    /// <summary>Returns true for a hop-by-hop header whose name was read off the wire (ASCII).</summary>
    public static bool IsHopByHop(ReadOnlySpan<byte> name, string? connectionHeader) =>
        IsOneOf(name, HopByHopBytes)
        || (name.Length >= 6 && (name[0] | 0x20) == 'p' && Ascii.EqualsIgnoreCase(name[..6], "Proxy-"u8))
        || (connectionHeader is not null && ListContains(connectionHeader, Decode(name, stackalloc char[StackNameLength])));

    private static bool IsOneOf(ReadOnlySpan<byte> name, byte[][][] namesByLength)
    {
        if ((uint)name.Length >= (uint)namesByLength.Length)
        {
            return false;
        }

        foreach (byte[] known in namesByLength[name.Length])
        {
            if (Ascii.EqualsIgnoreCase(name, known))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The names as ASCII, grouped by length: index <c>n</c> holds the names <c>n</c> bytes long.</summary>
    private static byte[][][] ByLength(string[] names)
    {
        var byLength = new byte[names.Max(static name => name.Length) + 1][][];
        for (int length = 0; length < byLength.Length; length++)
        {
            byLength[length] = [.. names.Where(name => name.Length == length).Select(Encoding.ASCII.GetBytes)];
        }

        return byLength;
    }

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
