using System.Buffers;

namespace Loadwise.AotProxy.Http;

/// <summary>The grammar pieces of RFC 9110 that the proxy's hand-written parsers check, written once.</summary>
internal static class HttpSyntax
{
    /// <summary>The longest decimal length accepted: 18 digits never overflow a long.</summary>
    private const int MaxDecimalDigits = 18;

    /// <summary>RFC 9110 section 5.6.2 <c>tchar</c>: the characters of a token (header names, methods, codings).</summary>
    private static readonly SearchValues<byte> TokenBytes = SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    private static readonly SearchValues<char> TokenChars = SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    /// <summary>The control characters a field value may not hold (RFC 9110 section 5.5): all but horizontal tab, and DEL.</summary>
    private static readonly SearchValues<char> ControlChars = SearchValues.Create([.. Enumerable.Range(0, 32).Where(static c => c != '\t').Select(static c => (char)c), (char)127]);

    /// <summary>Returns true when a field value holds a control character other than horizontal tab.</summary>
    public static bool HasControlBytes(ReadOnlySpan<char> value) => value.ContainsAny(ControlChars);

    /// <summary>Returns true for a non-empty token.</summary>
    public static bool IsToken(ReadOnlySpan<byte> text) => !text.IsEmpty && !text.ContainsAnyExcept(TokenBytes);

    /// <summary>Returns true for a non-empty token.</summary>
    public static bool IsToken(ReadOnlySpan<char> text) => !text.IsEmpty && !text.ContainsAnyExcept(TokenChars);

    /// <summary>
    /// Parses <c>1*DIGIT</c> as RFC 9110 section 8.6 defines Content-Length: no sign, no space, no list, at most 18
    /// digits (<c>+5</c>, <c>-0</c>, <c>5, 5</c> and <c>0x5</c> are all refused).
    /// </summary>
    public static bool TryParseDecimal(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > MaxDecimalDigits)
        {
            return false;
        }

        foreach (byte b in text)
        {
            uint digit = (uint)(b - '0');
            if (digit > 9)
            {
                return false;
            }

            value = (value * 10) + digit;
        }

        return true;
    }
}
