using System.Buffers;
using System.Text;
using Loadwise.AotProxy.Http;

namespace Loadwise.AotProxy.Downstream;

/// <summary>What <see cref="RequestHead.TryParse"/> made of the bytes a client sent.</summary>
internal enum RequestHeadParse
{
    /// <summary>The head is not complete yet (and still within the limits).</summary>
    NeedMoreData,

    /// <summary>A complete head the codec forwards itself (its body, if any, framed by its one Content-Length).</summary>
    Simple,

    /// <summary>Anything else: Kestrel's HTTP layer takes the connection over from this request on.</summary>
    HandOff,
}

/// <summary>The limits a request head must keep to on the fast path; Kestrel's own limits, so the answer does not depend on the path.</summary>
/// <param name="MaxRequestLineBytes">Kestrel's MaxRequestLineSize.</param>
/// <param name="MaxHeaderBytes">Kestrel's MaxRequestHeadersTotalSize.</param>
/// <param name="MaxHeaderCount">Kestrel's MaxRequestHeaderCount.</param>
/// <param name="MaxBodyBytes">Kestrel's MaxRequestBodySize: a longer Content-Length is Kestrel's to refuse (413).</param>
internal readonly record struct RequestHeadLimits(int MaxRequestLineBytes, int MaxHeaderBytes, int MaxHeaderCount, long MaxBodyBytes = long.MaxValue);

/// <summary>
/// A strict parser for the common request: GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS, an origin-form target,
/// HTTP/1.1, one Host, visible ASCII only, and at most one plain Content-Length. It records where things are (no
/// strings) and accepts a subset of what Kestrel accepts: whatever it is not sure of (a coding, Expect, Upgrade, odd
/// bytes, percent-encoded or dot segments in the path, repeated headers it reads, anything over a limit) is answered
/// <see cref="RequestHeadParse.HandOff"/>, so Kestrel's parser, with its errors and limits, has the last word. That is
/// what keeps smuggling out: a body is framed here only by one Content-Length of digits, the one framing every
/// recipient reads the same way.
/// </summary>
internal sealed class RequestHead
{
    /// <summary>Header value characters taken here: visible ASCII, space and tab (no obs-text, no controls).</summary>
    private static readonly SearchValues<byte> ValueBytes = SearchValues.Create(CreateRange(0x20, 0x7E, extra: (byte)'\t'));

    /// <summary>Request-target characters taken here: visible ASCII.</summary>
    private static readonly SearchValues<byte> TargetBytes = SearchValues.Create(CreateRange(0x21, 0x7E));

    /// <summary>Host name characters taken here: a DNS name or an IPv4 address.</summary>
    private static readonly SearchValues<byte> HostNameBytes = SearchValues.Create("-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>Characters inside the brackets of an IPv6 host.</summary>
    private static readonly SearchValues<byte> Ipv6Bytes = SearchValues.Create(".0123456789:ABCDEFabcdef"u8);

    /// <summary>The methods taken here; anything else (CONNECT, TRACE, extension methods) is Kestrel's.</summary>
    private static readonly string[] Methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

    private static readonly byte[][] MethodPrefixes = Array.ConvertAll(Methods, static m => Encoding.ASCII.GetBytes(m + " "));

    private HeaderField[] _fields = new HeaderField[16];
    private int _method;
    private bool _lengthSeen;

    /// <summary>Gets whether the method is HEAD.</summary>
    public bool IsHead => _method == 1;

    /// <summary>Gets the method as a string (interned: no allocation).</summary>
    public string Method => Methods[_method];

    /// <summary>Gets the request line's method and the space after it, as sent.</summary>
    public ReadOnlySpan<byte> MethodPrefix => MethodPrefixes[_method];

    /// <summary>Gets the body's length from the request's one Content-Length, or 0 when it has none.</summary>
    public long BodyLength { get; private set; }

    /// <summary>Gets the head's length in bytes, blank line included.</summary>
    public int Length { get; private set; }

    /// <summary>Gets where the request target starts.</summary>
    public int TargetStart { get; private set; }

    /// <summary>Gets the request target's length.</summary>
    public int TargetLength { get; private set; }

    /// <summary>Gets the length of the target's path (up to the <c>?</c>).</summary>
    public int PathLength { get; private set; }

    /// <summary>Gets the index in <see cref="Fields"/> of the Host field.</summary>
    public int HostField { get; private set; }

    /// <summary>Gets whether the client asked to close the connection after this response (<c>Connection: close</c>).</summary>
    public bool Close { get; private set; }

    /// <summary>Gets the header fields, in the order received.</summary>
    public ReadOnlySpan<HeaderField> Fields => _fields.AsSpan(0, FieldCount);

    /// <summary>Gets the number of header fields.</summary>
    public int FieldCount { get; private set; }

    /// <summary>
    /// Parses one request head at the start of <paramref name="data"/>. Headers named in <paramref name="singleHeaders"/>
    /// (those the proxy reads: X-Forwarded-*, the hash-key header) must appear at most once, or the request is handed off.
    /// </summary>
    public RequestHeadParse TryParse(ReadOnlySpan<byte> data, in RequestHeadLimits limits, ReadOnlySpan<string> singleHeaders)
    {
        int end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            // A line ended by a bare LF would never complete the head here: Kestrel answers it at once instead.
            return data.Length > limits.MaxRequestLineBytes + limits.MaxHeaderBytes || HasBareLineFeed(data) ? RequestHeadParse.HandOff : RequestHeadParse.NeedMoreData;
        }

        Length = end + 4;
        FieldCount = 0;
        HostField = -1;
        Close = false;
        BodyLength = 0;
        _lengthSeen = false;
        ReadOnlySpan<byte> head = data[..(end + 2)];
        int lineEnd = head.IndexOf("\r\n"u8);
        if (lineEnd > limits.MaxRequestLineBytes || !TryParseRequestLine(head[..lineEnd]))
        {
            return RequestHeadParse.HandOff;
        }

        if (end + 2 - lineEnd - 2 > limits.MaxHeaderBytes)
        {
            return RequestHeadParse.HandOff;
        }

        int position = lineEnd + 2;
        uint seen = 0;
        while (position < head.Length)
        {
            ReadOnlySpan<byte> rest = head[position..];
            lineEnd = rest.IndexOf("\r\n"u8);
            ReadOnlySpan<byte> line = rest[..lineEnd];
            int colon = line.IndexOf((byte)':');
            if (colon <= 0 || !HttpSyntax.IsToken(line[..colon]) || FieldCount == limits.MaxHeaderCount)
            {
                // Also catches a bare CR or LF, obsolete line folding and whitespace before the colon.
                return RequestHeadParse.HandOff;
            }

            ReadOnlySpan<byte> rawValue = line[(colon + 1)..];
            if (rawValue.IndexOfAnyExcept(ValueBytes) >= 0)
            {
                return RequestHeadParse.HandOff;
            }

            ReadOnlySpan<byte> value = rawValue.TrimStart(" \t"u8);
            int valueStart = position + colon + 1 + (rawValue.Length - value.Length);
            value = value.TrimEnd(" \t"u8);
            ReadOnlySpan<byte> name = line[..colon];
            if (!Admit(name, value, singleHeaders, limits.MaxBodyBytes, ref seen))
            {
                return RequestHeadParse.HandOff;
            }

            if (FieldCount == _fields.Length)
            {
                Array.Resize(ref _fields, _fields.Length * 2);
            }

            if (name.Length == 4 && Ascii.EqualsIgnoreCase(name, "Host"u8))
            {
                if (HostField >= 0 || !IsHostValid(value))
                {
                    return RequestHeadParse.HandOff;
                }

                HostField = FieldCount;
            }

            _fields[FieldCount++] = new HeaderField(position, colon, valueStart, value.Length);
            position += lineEnd + 2;
        }

        return HostField < 0 ? RequestHeadParse.HandOff : RequestHeadParse.Simple;
    }

    /// <summary>
    /// A subset of the Host values Kestrel takes (its <c>HttpUtilities.IsHostHeaderValid</c>): a name of letters,
    /// digits, <c>-</c>, <c>.</c> and <c>_</c>, or a bracketed IPv6 address of at least three characters, then an
    /// optional port of one to five digits. Anything else (<c>a:b:c</c>, <c>[::1</c>, <c>:80</c>, an empty value) is
    /// left to Kestrel, which refuses it.
    /// </summary>
    internal static bool IsHostValid(ReadOnlySpan<byte> host)
    {
        int portStart;
        if (!host.IsEmpty && host[0] == (byte)'[')
        {
            int close = host.IndexOf((byte)']');
            if (close < 4 || host[1..close].ContainsAnyExcept(Ipv6Bytes))
            {
                return false;
            }

            portStart = close + 1;
        }
        else
        {
            int colon = host.IndexOf((byte)':');
            ReadOnlySpan<byte> name = colon < 0 ? host : host[..colon];
            if (name.IsEmpty || name.ContainsAnyExcept(HostNameBytes))
            {
                return false;
            }

            portStart = name.Length;
        }

        ReadOnlySpan<byte> port = host[portStart..];
        return port.IsEmpty || (port[0] == (byte)':' && port.Length is >= 2 and <= 6 && !port[1..].ContainsAnyExceptInRange((byte)'0', (byte)'9'));
    }

    /// <summary>Returns true when a line feed in <paramref name="data"/> does not follow a carriage return.</summary>
    private static bool HasBareLineFeed(ReadOnlySpan<byte> data)
    {
        for (int offset = 0; ;)
        {
            int lf = data[offset..].IndexOf((byte)'\n');
            if (lf < 0)
            {
                return false;
            }

            lf += offset;
            if (lf == 0 || data[lf - 1] != (byte)'\r')
            {
                return true;
            }

            offset = lf + 1;
        }
    }

    /// <summary>Returns true when the parsed request's path (before any query) is exactly one of <paramref name="paths"/>.</summary>
    public bool PathIsOneOf(ReadOnlySpan<byte> head, string[] paths)
    {
        ReadOnlySpan<byte> path = head.Slice(TargetStart, PathLength);
        foreach (string candidate in paths)
        {
            if (path.Length == candidate.Length && Ascii.Equals(path, candidate))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Finds a header's value; empty when absent.</summary>
    public ReadOnlySpan<byte> Find(ReadOnlySpan<byte> head, string name)
    {
        foreach (HeaderField field in Fields)
        {
            if (field.NameLength == name.Length && Ascii.EqualsIgnoreCase(field.Name(head), name))
            {
                return field.Value(head);
            }
        }

        return default;
    }

    private bool TryParseRequestLine(ReadOnlySpan<byte> line)
    {
        int methodLength = -1;
        for (int m = 0; m < MethodPrefixes.Length; m++)
        {
            if (line.StartsWith(MethodPrefixes[m]))
            {
                _method = m;
                methodLength = MethodPrefixes[m].Length - 1;
                break;
            }
        }

        if (methodLength < 0)
        {
            return false;
        }

        ReadOnlySpan<byte> version = " HTTP/1.1"u8;
        if (!line.EndsWith(version))
        {
            return false;
        }

        TargetStart = methodLength + 1;
        TargetLength = line.Length - version.Length - TargetStart;
        ReadOnlySpan<byte> target = line.Slice(TargetStart, TargetLength);
        if (target.IsEmpty || target[0] != (byte)'/' || target.IndexOfAnyExcept(TargetBytes) >= 0)
        {
            return false;
        }

        int query = target.IndexOf((byte)'?');
        PathLength = query < 0 ? target.Length : query;
        ReadOnlySpan<byte> path = target[..PathLength];

        // Kestrel decodes and normalises such paths, and the request rules check them there; leaving them to it keeps
        // Path-based hash keys, dot-segment removal and refusals identical on both paths.
        return path.IndexOf((byte)'%') < 0 && path.IndexOf("/."u8) < 0 && path.IndexOf((byte)'\\') < 0 && target.IndexOf((byte)'#') < 0;
    }

    /// <summary>
    /// Turns away what only Kestrel handles, notes <c>Connection: close</c>, and takes the body's length from one
    /// Content-Length of <c>1*DIGIT</c> within <paramref name="maxBody"/>: a second one, any other spelling, a coding or
    /// an Expect is left to Kestrel, so a body is framed here only when its framing is unambiguous.
    /// </summary>
    private bool Admit(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, ReadOnlySpan<string> singleHeaders, long maxBody, ref uint seen)
    {
        if (name.Length == 14 && Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
        {
            if (_lengthSeen || !HttpSyntax.TryParseDecimal(value, out long length) || length > maxBody)
            {
                return false;
            }

            _lengthSeen = true;
            BodyLength = length;
            return true;
        }

        if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8)
            || Ascii.EqualsIgnoreCase(name, "Expect"u8) || Ascii.EqualsIgnoreCase(name, "Upgrade"u8)
            || Ascii.EqualsIgnoreCase(name, "HTTP2-Settings"u8) || Ascii.EqualsIgnoreCase(name, "X-Content-Length"u8))
        {
            return false;
        }

        if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
        {
            if (Ascii.EqualsIgnoreCase(value, "close"u8))
            {
                Close = true;
                return true;
            }

            // Any other token would name more hop-by-hop headers; Kestrel's path handles those.
            return Ascii.EqualsIgnoreCase(value, "keep-alive"u8);
        }

        for (int i = 0; i < singleHeaders.Length && i < 32; i++)
        {
            if (name.Length == singleHeaders[i].Length && Ascii.EqualsIgnoreCase(name, singleHeaders[i]))
            {
                uint bit = 1u << i;
                if ((seen & bit) != 0)
                {
                    return false;
                }

                seen |= bit;
            }
        }

        return true;
    }

    private static byte[] CreateRange(byte first, byte last, byte? extra = null)
    {
        var bytes = new List<byte>();
        for (int b = first; b <= last; b++)
        {
            bytes.Add((byte)b);
        }

        if (extra is { } e)
        {
            bytes.Add(e);
        }

        return [.. bytes];
    }
}
