using System.Net;
using Loadwise.AotProxy.Forwarding;
using Microsoft.Extensions.Primitives;

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

    /// <summary>Returns true and the key when the request carries one; false sends the request to the fallback strategy.</summary>
    public bool TryGetKey(HttpContext context, out ulong key)
    {
        switch (Kind)
        {
            case HashKeyKind.ClientIp:
                return TryHashAddress(
                    forwarded.ResolveClient(context.Connection.RemoteIpAddress, context.Request.Headers[ForwardedHeaders.ForwardedFor].ToString()), out key);
            case HashKeyKind.Header:
                return TryHashNonEmpty(context.Request.Headers.TryGetValue(Name!, out StringValues values) ? values.ToString() : null, out key);
            case HashKeyKind.Cookie:
                return TryHashNonEmpty(FindPair(context.Request.Headers.Cookie.ToString(), Name!, ';'), out key);
            case HashKeyKind.Path:
                return TryHashNonEmpty(context.Request.Path.Value, out key);
            case HashKeyKind.Query:
                string? query = context.Request.QueryString.Value;
                return TryHashNonEmpty(string.IsNullOrEmpty(query) ? default : FindPair(query.AsSpan(1), Name!, '&'), out key);
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
