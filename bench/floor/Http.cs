using System.Runtime.CompilerServices;

namespace FloorProxy;

/// <summary>Small HTTP/1.1 parsing helpers over bytes (no allocation).</summary>
internal static class Http
{
    public static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;
    public static ReadOnlySpan<byte> Crlf => "\r\n"u8;

    /// <summary>ASCII case-insensitive compare of a header name with a lower-case literal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool NameIs(ReadOnlySpan<byte> name, ReadOnlySpan<byte> lower)
    {
        if (name.Length != lower.Length)
        {
            return false;
        }
        for (int i = 0; i < name.Length; i++)
        {
            // OR-ing 0x20 lower-cases letters and leaves '-' and digits alone (the only other bytes in these names).
            if ((name[i] | 0x20) != lower[i])
            {
                return false;
            }
        }
        return true;
    }

    public static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> s)
    {
        int a = 0, b = s.Length;
        while (a < b && (s[a] == ' ' || s[a] == '\t'))
        {
            a++;
        }
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
        {
            b--;
        }
        return s[a..b];
    }

    /// <summary>Whether a comma-separated header value holds the token (case-insensitive), e.g. "close" in Connection.</summary>
    public static bool HasToken(ReadOnlySpan<byte> value, ReadOnlySpan<byte> lowerToken)
    {
        while (true)
        {
            int comma = value.IndexOf((byte)',');
            ReadOnlySpan<byte> item = Trim(comma < 0 ? value : value[..comma]);
            if (NameIs(item, lowerToken))
            {
                return true;
            }
            if (comma < 0)
            {
                return false;
            }
            value = value[(comma + 1)..];
        }
    }

    /// <summary>The last token of a Transfer-Encoding value is "chunked".</summary>
    public static bool LastTokenIsChunked(ReadOnlySpan<byte> value)
    {
        int comma = value.LastIndexOf((byte)',');
        return NameIs(Trim(comma < 0 ? value : value[(comma + 1)..]), "chunked"u8);
    }

    /// <summary>Parses a Content-Length value: 1-18 digits, nothing else.</summary>
    public static bool TryParseLength(ReadOnlySpan<byte> value, out long length)
    {
        value = Trim(value);
        length = 0;
        if (value.Length is 0 or > 18)
        {
            return false;
        }
        foreach (byte b in value)
        {
            uint d = (uint)(b - '0');
            if (d > 9)
            {
                return false;
            }
            length = length * 10 + d;
        }
        return true;
    }
}

/// <summary>
/// Follows chunked framing as the bytes go by (they are relayed unchanged) to find where the message ends: the
/// last chunk, the trailer section and the final CRLF.
/// </summary>
internal struct ChunkedScanner
{
    private enum S : byte { Size, Ext, SizeLf, Data, DataCr, DataLf, TrailerStart, TrailerLine, TrailerLf, FinalLf, Done }

    private S _state;
    private bool _sawDigit;
    private long _size;

    public readonly bool Done => _state == S.Done;

    public void Reset()
    {
        _state = S.Size;
        _sawDigit = false;
        _size = 0;
    }

    /// <summary>Consumes bytes up to the end of the message; returns how many, or -1 on a framing error.</summary>
    public unsafe int Feed(byte* p, int n)
    {
        int i = 0;
        while (i < n)
        {
            if (_state == S.Data)
            {
                long take = Math.Min(_size, n - i);
                i += (int)take;
                _size -= take;
                if (_size == 0)
                {
                    _state = S.DataCr;
                }
                continue;
            }
            byte b = p[i++];
            switch (_state)
            {
                case S.Size:
                    int d = b switch
                    {
                        >= (byte)'0' and <= (byte)'9' => b - '0',
                        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
                        _ => -1,
                    };
                    if (d >= 0)
                    {
                        if (_size > (long.MaxValue >> 5))
                        {
                            return -1;
                        }
                        _size = (_size << 4) | (uint)d;
                        _sawDigit = true;
                    }
                    else if (!_sawDigit)
                    {
                        return -1;
                    }
                    else if (b == '\r')
                    {
                        _state = S.SizeLf;
                    }
                    else if (b is (byte)';' or (byte)' ' or (byte)'\t')
                    {
                        _state = S.Ext;
                    }
                    else
                    {
                        return -1;
                    }
                    break;
                case S.Ext:
                    if (b == '\r')
                    {
                        _state = S.SizeLf;
                    }
                    break;
                case S.SizeLf:
                    if (b != '\n')
                    {
                        return -1;
                    }
                    _sawDigit = false;
                    _state = _size == 0 ? S.TrailerStart : S.Data;
                    break;
                case S.DataCr:
                    if (b != '\r')
                    {
                        return -1;
                    }
                    _state = S.DataLf;
                    break;
                case S.DataLf:
                    if (b != '\n')
                    {
                        return -1;
                    }
                    _state = S.Size;
                    break;
                case S.TrailerStart:
                    _state = b == '\r' ? S.FinalLf : S.TrailerLine;
                    break;
                case S.TrailerLine:
                    if (b == '\r')
                    {
                        _state = S.TrailerLf;
                    }
                    break;
                case S.TrailerLf:
                    if (b != '\n')
                    {
                        return -1;
                    }
                    _state = S.TrailerStart;
                    break;
                case S.FinalLf:
                    if (b != '\n')
                    {
                        return -1;
                    }
                    _state = S.Done;
                    return i;
            }
        }
        return i;
    }
}
