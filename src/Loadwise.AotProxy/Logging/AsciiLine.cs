using System.Globalization;
using System.Net;
using System.Text;

namespace Loadwise.AotProxy.Logging;

/// <summary>
/// Builds one log line as ASCII bytes in a caller's buffer: every character that is not printable ASCII is escaped, so
/// the line is ASCII whatever came in. The buffer must be large enough (<see cref="Room"/> gives the worst case).
/// </summary>
/// <example><code>
/// Span&lt;byte&gt; buffer = stackalloc byte[AsciiLine.Room(path.Length)];
/// var line = new AsciiLine(buffer);
/// line.Append("GET "u8);
/// line.AppendEscaped(path);
/// writer.TryWrite(line.Written);
/// </code></example>
internal ref struct AsciiLine(Span<byte> buffer)
{
    /// <summary>The most bytes one escaped character takes: <c>\xHH</c> for each of up to 3 UTF-8 bytes (a surrogate pair's 4 bytes span two characters).</summary>
    public const int MostBytesPerChar = 12;

    private readonly Span<byte> _buffer = buffer;
    private int _length;

    /// <summary>Gets the bytes written so far.</summary>
    public readonly ReadOnlySpan<byte> Written => _buffer[.._length];

    /// <summary>The room a line needs: <paramref name="fixedBytes"/> plus <paramref name="escapedChars"/> characters escaped at worst.</summary>
    public static int Room(int escapedChars, int fixedBytes = 512) => fixedBytes + (MostBytesPerChar * escapedChars);

    /// <summary>Appends ASCII bytes as they are.</summary>
    public void Append(scoped ReadOnlySpan<byte> ascii)
    {
        ascii.CopyTo(_buffer[_length..]);
        _length += ascii.Length;
    }

    /// <summary>Appends one ASCII character.</summary>
    public void Append(char ascii) => _buffer[_length++] = (byte)ascii;

    /// <summary>Appends a number (or any UTF-8 formattable value) with an optional format, invariant.</summary>
    public void Append<T>(T value, scoped ReadOnlySpan<char> format = default)
        where T : IUtf8SpanFormattable
    {
        if (!value.TryFormat(_buffer[_length..], out int written, format, CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException("an access log line outgrew its buffer");
        }

        _length += written;
    }

    /// <summary>Appends an address, an IPv4-mapped IPv6 one as IPv4.</summary>
    public void AppendAddress(IPAddress address)
    {
        IPAddress shown = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        if (shown.TryFormat(_buffer[_length..], out int written))
        {
            _length += written;
        }
    }

    /// <summary>Printable ASCII but <c>"</c> and <c>\</c> as is; every other byte of the UTF-8 text as <c>\xHH</c> (as nginx does).</summary>
    public void AppendEscaped(scoped ReadOnlySpan<char> text)
    {
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is > ' ' and < '\x7f' and not '"' and not '\\')
            {
                _buffer[_length++] = (byte)c;
                continue;
            }

            int length = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])
                ? Encoding.UTF8.GetBytes(text.Slice(i++, 2), utf8)
                : Encoding.UTF8.GetBytes(text.Slice(i, 1), utf8);
            foreach (byte b in utf8[..length])
            {
                Append("\\x"u8);
                AppendHex(b, 2, upper: true);
            }
        }
    }

    /// <summary>A JSON string of ASCII only: control, non-ASCII, quote and backslash characters as <c>\uHHHH</c>.</summary>
    public void AppendJsonString(scoped ReadOnlySpan<char> text)
    {
        _buffer[_length++] = (byte)'"';
        foreach (char c in text)
        {
            if (c is >= ' ' and < '\x7f' and not '"' and not '\\')
            {
                _buffer[_length++] = (byte)c;
            }
            else
            {
                Append("\\u"u8);
                AppendHex(c, 4, upper: false);
            }
        }

        _buffer[_length++] = (byte)'"';
    }

    private void AppendHex(int value, int digits, bool upper)
    {
        ReadOnlySpan<byte> alphabet = upper ? "0123456789ABCDEF"u8 : "0123456789abcdef"u8;
        for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4)
        {
            _buffer[_length++] = alphabet[(value >> shift) & 0xF];
        }
    }
}
