using System.Net;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Http;

namespace Loadwise.AotProxy.Router;

/// <summary>
/// Reads a request's hash key without allocating: the key's characters are hashed where they lie (header value, raw
/// cookie header, path, raw query string) with <see cref="StableHash"/>, so a key maps to the same backend everywhere.
/// </summary>
internal sealed class HashKeySource(HashKeyKind kind, string? name, ForwardedHeaders forwarded)
{
    public HashKeyKind Kind { get; } = kind;

    public string? Name { get; } = name;

    /// <summary>
    /// Returns true and the key when the request carries one; false sends the request to the fallback strategy. Both
    /// front ends (Kestrel's request, and the codec's raw head) go through here, so a key maps the same way on either.
    /// </summary>
    public bool TryGetKey<TRequest>(TRequest request, out ulong key)
        where TRequest : IClientRequest
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
