using System.Buffers;
using System.Collections.Frozen;

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

    private static readonly SearchValues<char> ListSeparators = SearchValues.Create(", \t");

    /// <summary>Returns true when a request header must not be copied upstream as it is.</summary>
    public static bool SkipRequestHeader(string name, string? connectionHeader, bool handleForwarded) =>
        IsHopByHop(name, connectionHeader) || (handleForwarded ? SetByProxy.Contains(name) : string.Equals(name, "Host", StringComparison.OrdinalIgnoreCase));

    /// <summary>Returns true for a hop-by-hop header: a fixed one, any <c>Proxy-*</c>, or one named by <c>Connection</c>.</summary>
    public static bool IsHopByHop(string name, string? connectionHeader) =>
        HopByHop.Contains(name)
        || name.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase)
        || (connectionHeader is not null && ListContains(connectionHeader, name));

    /// <summary>Returns true when a comma-separated token list (a Connection header) contains <paramref name="token"/>.</summary>
    public static bool ListContains(ReadOnlySpan<char> list, string token)
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
