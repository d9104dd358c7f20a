using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Loadwise.Yarp;

/// <summary>Where a hashing policy reads a request's key: a header, a cookie, a query or route value, or the client address.</summary>
internal sealed class HashKeySource
{
    private HashKeySource(HashKeyKind kind, string name)
    {
        Kind = kind;
        Name = name;
    }

    public HashKeyKind Kind { get; }

    public string Name { get; }

    public static bool TryParse(string? text, out HashKeySource? source)
    {
        source = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        if (string.Equals(text, "ip", StringComparison.OrdinalIgnoreCase))
        {
            source = new HashKeySource(HashKeyKind.ClientIp, "");
            return true;
        }

        int colon = text.IndexOf(':', StringComparison.Ordinal);
        string name = colon < 0 ? "" : text[(colon + 1)..].Trim();
        if (colon < 0 || name.Length == 0)
        {
            return false;
        }

        HashKeyKind? kind = text[..colon].Trim().ToLowerInvariant() switch
        {
            "header" => HashKeyKind.Header,
            "cookie" => HashKeyKind.Cookie,
            "query" => HashKeyKind.Query,
            "route" => HashKeyKind.Route,
            _ => null,
        };
        source = kind is { } k ? new HashKeySource(k, name) : null;
        return source is not null;
    }

    /// <summary>Reads and hashes the request's key; false when the request has none (absent or empty).</summary>
    public bool TryRead(HttpContext context, out ulong key)
    {
        key = 0;
        switch (Kind)
        {
            case HashKeyKind.Header:
                return TryHash(context.Request.Headers[Name], out key);
            case HashKeyKind.Cookie:
                return TryHash(context.Request.Cookies[Name], out key);
            case HashKeyKind.Query:
                return TryHash(context.Request.Query[Name], out key);
            case HashKeyKind.Route:
                return TryHash(context.Request.RouteValues[Name] switch { string s => s, { } o => Convert.ToString(o, System.Globalization.CultureInfo.InvariantCulture), null => null }, out key);
            default:
                return TryHashAddress(context.Connection.RemoteIpAddress, out key);
        }
    }

    public override string ToString() => Kind == HashKeyKind.ClientIp ? "ip" : $"{Kind.ToString().ToLowerInvariant()}:{Name}";

    private static bool TryHash(StringValues values, out ulong key) => TryHash(values.Count == 0 ? null : values[0], out key);

    private static bool TryHash(string? value, out ulong key)
    {
        key = string.IsNullOrEmpty(value) ? 0 : StableHash.Hash(value);
        return !string.IsNullOrEmpty(value);
    }

    // One client, one key: an IPv4 client that reaches a dual-stack listener as ::ffff:a.b.c.d hashes as a.b.c.d.
    private static bool TryHashAddress(IPAddress? address, out ulong key)
    {
        key = 0;
        if (address is null)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int written))
        {
            return false;
        }

        ReadOnlySpan<byte> raw = bytes[..written];
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.IsIPv4MappedToIPv6)
        {
            raw = raw[12..];
        }

        key = StableHash.Hash(raw);
        return true;
    }
}

/// <summary>The kinds of hash-key source.</summary>
internal enum HashKeyKind
{
    Header,
    Cookie,
    Query,
    Route,
    ClientIp,
}
