using System.Net;
using Loadwise.AotProxy.Forwarding;

namespace Loadwise.AotProxy.Routing;

/// <summary>Where a request's consistent-hashing key comes from.</summary>
internal enum HashKeyKind
{
    ClientIp,
    Header,
    Cookie,
    Path,
    Query,
}

/// <summary>What <see cref="HashKeySource"/> reads of a request.</summary>
internal interface IHashKeyRequest
{
    /// <summary>Gets the connection's peer address.</summary>
    IPAddress? Peer { get; }

    /// <summary>Gets the decoded path (no query).</summary>
    ReadOnlySpan<char> Path { get; }

    /// <summary>Gets the raw query string with its leading <c>?</c>, or empty.</summary>
    ReadOnlySpan<char> Query { get; }

    /// <summary>Gets a header's value (values of a repeated header joined with a comma), or empty.</summary>
    ReadOnlySpan<char> Header(string name);
}

/// <summary>
/// Reads a request's hash key without allocating: the key's characters are hashed where they lie (header value, raw
/// cookie header, path, raw query string) with <see cref="StableHash"/>, so a key maps to the same backend everywhere.
/// </summary>
internal sealed class HashKeySource(HashKeyKind kind, string? name, ForwardedHeaders forwarded)
{
    public static readonly string[] Names = ["ClientIp", "Header", "Cookie", "Path", "Query"];

    public HashKeyKind Kind { get; } = kind;

    public string? Name { get; } = name;

    public static bool TryParseKind(string? text, out HashKeyKind kind) => Enum.TryParse(text, ignoreCase: true, out kind) && Enum.IsDefined(kind);

    /// <summary>
    /// Returns true and the key when the request carries one; false sends the request to the fallback strategy. Both
    /// front ends (Kestrel's request, and the fast path's raw head) go through here, so a key maps the same way on either.
    /// </summary>
    public bool TryGetKey<TRequest>(TRequest request, out ulong key)
        where TRequest : IHashKeyRequest
    {
        switch (Kind)
        {
            case HashKeyKind.ClientIp:
                IPAddress? peer = request.Peer;
                return TryHashAddress(forwarded.IsTrusted(peer) ? forwarded.ResolveClient(peer, request.Header(ForwardedHeaders.ForwardedFor)) : peer, out key);
            case HashKeyKind.Header:
                return TryHashNonEmpty(request.Header(Name!), out key);
            case HashKeyKind.Cookie:
                return TryHashNonEmpty(FindPair(request.Header("Cookie"), Name!, ';'), out key);
            case HashKeyKind.Path:
                return TryHashNonEmpty(request.Path, out key);
            case HashKeyKind.Query:
                ReadOnlySpan<char> query = request.Query;
                return TryHashNonEmpty(query.IsEmpty ? default : FindPair(query[1..], Name!, '&'), out key);
            default:
                key = 0;
                return false;
        }
    }

    private static bool TryHashAddress(IPAddress? address, out ulong key)
    {
        if (address is null)
        {
            key = 0;
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int written))
        {
            key = 0;
            return false;
        }

        key = StableHash.Hash((ReadOnlySpan<byte>)bytes[..written]);
        return true;
    }

    private static bool TryHashNonEmpty(ReadOnlySpan<char> value, out ulong key)
    {
        if (value.IsEmpty)
        {
            key = 0;
            return false;
        }

        key = StableHash.Hash(value);
        return true;
    }

    /// <summary>Finds <c>name=value</c> in a <paramref name="separator"/>-separated list and returns the raw value.</summary>
    internal static ReadOnlySpan<char> FindPair(ReadOnlySpan<char> list, string name, char separator)
    {
        while (!list.IsEmpty)
        {
            int end = list.IndexOf(separator);
            ReadOnlySpan<char> item = (end < 0 ? list : list[..end]).Trim();
            list = end < 0 ? default : list[(end + 1)..];
            int equals = item.IndexOf('=');
            if (equals > 0 && item[..equals].Trim().Equals(name, StringComparison.Ordinal))
            {
                return item[(equals + 1)..].Trim();
            }
        }

        return default;
    }
}
