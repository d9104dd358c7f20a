using System.Buffers;
using System.Text;

namespace Loadwise.AotProxy.Http;

/// <summary>How the end of a response body is found (RFC 9112 section 6.3).</summary>
internal enum BodyFraming
{
    /// <summary>No body: a HEAD request, or 204/304.</summary>
    None,

    /// <summary>Exactly Content-Length bytes.</summary>
    ContentLength,

    /// <summary>Chunked transfer coding.</summary>
    Chunked,

    /// <summary>Everything until the backend closes the connection.</summary>
    UntilClose,
}

/// <summary>A parsed response head: status, framing, and the header fields in the order received.</summary>
internal sealed class ResponseHead
{
    public int Status { get; private set; }

    public BodyFraming Framing { get; private set; }

    /// <summary>Gets the body length when <see cref="Framing"/> is <see cref="BodyFraming.ContentLength"/>.</summary>
    public long ContentLength { get; private set; }

    /// <summary>
    /// Gets whether the Content-Length goes on to the client: when it frames the body, or describes the answer to a
    /// HEAD (not for 204 or 304). Repeats, equal or the parse would have failed, are sent once.
    /// </summary>
    public bool RelaysContentLength { get; private set; }

    /// <summary>Gets whether the connection may carry another request after this response.</summary>
    public bool KeepAlive { get; private set; }

    /// <summary>Gets the Connection header's value (its tokens name more hop-by-hop headers), or null.</summary>
    public string? Connection { get; private set; }

    /// <summary>
    /// Gets the Connection header's value when it names headers beyond <c>keep-alive</c> and <c>close</c>, else null:
    /// what hop-by-hop checks need (Keep-Alive is hop-by-hop anyway), without scanning the list for every header.
    /// </summary>
    public string? ConnectionNames { get; private set; }

    /// <summary>
    /// Gets the transfer codings other than <c>chunked</c> (for example <c>gzip</c>), as received, or null: they stay on
    /// the body the client gets, which the proxy frames itself.
    /// </summary>
    public string? OtherCodings { get; private set; }

    /// <summary>Gets the Retry-After header's value, or null.</summary>
    public string? RetryAfter { get; private set; }

    /// <summary>Gets whether the response carries a Date header.</summary>
    public bool HasDate { get; private set; }

    /// <summary>Gets the number of header fields parsed.</summary>
    public int FieldCount { get; private set; }

    /// <summary>Gets the header fields as ranges into the parsed head, in the order received (no strings made).</summary>
    public ReadOnlySpan<HeaderField> Fields => _fields.AsSpan(0, FieldCount);

    /// <summary>Gets or sets where the parsed head starts in its connection's buffer (set by the reader that parsed it).</summary>
    public int Offset { get; set; }

    private HeaderField[] _fields = new HeaderField[16];

    /// <summary>Makes strings of the header fields of <paramref name="head"/> (the bytes this instance parsed), names and values as received (Latin-1).</summary>
    public List<KeyValuePair<string, string>> GetHeaders(ReadOnlySpan<byte> head)
    {
        var headers = new List<KeyValuePair<string, string>>(FieldCount);
        foreach (HeaderField field in Fields)
        {
            headers.Add(new(Encoding.Latin1.GetString(field.Name(head)), Encoding.Latin1.GetString(field.Value(head))));
        }

        return headers;
    }

    private const string KeepAliveToken = "keep-alive";
    private const string ChunkedToken = "chunked";
    private const string CloseToken = "close";

    /// <summary>Control characters refused anywhere in a response head: all but horizontal tab, CR and LF (those two only as a line's CRLF end), and DEL.</summary>
    private static readonly SearchValues<byte> ControlBytesButLineEnds = SearchValues.Create([.. Enumerable.Range(0, 32).Where(static b => b is not ('\t' or '\r' or '\n')).Select(static b => (byte)b), (byte)127]);

    private static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    /// <summary>
    /// Parses one response head from <paramref name="data"/>. Returns <see cref="OperationStatus.NeedMoreData"/> until
    /// the blank line has arrived and <see cref="OperationStatus.InvalidData"/> (with <paramref name="error"/>) for
    /// anything that is not a well-formed HTTP/1.0 or 1.1 head: a header name that is not a token, obsolete line
    /// folding, whitespace before a colon (RFC 9112 section 5), a Content-Length that is not <c>1*DIGIT</c> or that
    /// conflicts with another (RFC 9110 section 8.6), and a Transfer-Encoding where <c>chunked</c> is not the final coding,
    /// or comes twice, and both a length and a coding (RFC 9112 section 6.3). A head that is valid but odd (a length or
    /// coding on a 1xx or 204, a repeated length) marks the connection not reusable (<see cref="KeepAlive"/> false), as HAProxy does.
    /// </summary>
    public OperationStatus TryParse(ReadOnlySpan<byte> data, bool requestWasHead, out int consumed, out string? error)
    {
        consumed = 0;
        error = null;
        int end = data.IndexOf(HeadEnd);
        if (end < 0)
        {
            return OperationStatus.NeedMoreData;
        }

        FieldCount = 0;
        HasDate = false;
        Connection = null;
        RetryAfter = null;
        OtherCodings = null;
        ReadOnlySpan<byte> head = data[..(end + 2)];
        // Whole-head vectorised passes rather than several per line: no control byte but the line ends here, and after
        // the lines, as many CRs as lines (each line's LF is checked to follow a CR, so no CR or LF is bare). A bare CR
        // or LF would split a line again downstream.
        ReadOnlySpan<byte> wholeHead = head;
        if (head.IndexOfAny(ControlBytesButLineEnds) >= 0)
        {
            error = "control character in the response head";
            return OperationStatus.InvalidData;
        }

        int lineEnd = head.IndexOf((byte)'\n') - 1;
        if (lineEnd < 0 || head[lineEnd] != '\r' || !TryParseStatusLine(head[..lineEnd], out int status, out bool http11))
        {
            error = "malformed status line";
            return OperationStatus.InvalidData;
        }

        long contentLength = -1;
        bool odd = false;
        string? transferEncoding = null;
        int lineStart = lineEnd + 2;
        int lines = 1;
        head = head[lineStart..];
        while (!head.IsEmpty)
        {
            lines++;
            lineEnd = head.IndexOf((byte)'\n') - 1;
            if (lineEnd < 0 || head[lineEnd] != '\r')
            {
                error = "control character in the response head";
                return OperationStatus.InvalidData;
            }

            ReadOnlySpan<byte> line = head[..lineEnd];
            head = head[(lineEnd + 2)..];
            // The name ends at the colon; a space or tab first means none, or whitespace in or before it.
            int colon = line.IndexOfAny((byte)':', (byte)' ', (byte)'\t');
            if (colon <= 0 || line[colon] != ':')
            {
                error = "malformed header line";
                return OperationStatus.InvalidData;
            }

            ReadOnlySpan<byte> nameBytes = line[..colon];
            if (!HttpSyntax.IsToken(nameBytes))
            {
                error = "header name that is not a token";
                return OperationStatus.InvalidData;
            }

            int valueStart = colon + 1;
            int valueEnd = line.Length;
            while (valueStart < valueEnd && line[valueStart] is (byte)' ' or (byte)'\t')
            {
                valueStart++;
            }

            while (valueEnd > valueStart && line[valueEnd - 1] is (byte)' ' or (byte)'\t')
            {
                valueEnd--;
            }

            ReadOnlySpan<byte> valueBytes = line[valueStart..valueEnd];
            if (FieldCount == _fields.Length)
            {
                Array.Resize(ref _fields, _fields.Length * 2);
            }

            _fields[FieldCount++] = new HeaderField(lineStart, colon, lineStart + valueStart, valueBytes.Length);
            lineStart += lineEnd + 2;

            // The names the proxy reads, told apart by length first: most fields are none of them.
            switch (nameBytes.Length)
            {
                case 4 when Ascii.EqualsIgnoreCase(nameBytes, "Date"u8):
                    HasDate = true;
                    break;
                case 10 when Ascii.EqualsIgnoreCase(nameBytes, "Connection"u8):
                    string connection = ConnectionValue(valueBytes);
                    Connection = Connection is null ? connection : Connection + ", " + connection;
                    break;
                case 11 when Ascii.EqualsIgnoreCase(nameBytes, "Retry-After"u8):
                    RetryAfter = Encoding.Latin1.GetString(valueBytes);
                    break;
                case 14 when Ascii.EqualsIgnoreCase(nameBytes, "Content-Length"u8):
                    if (!HttpSyntax.TryParseDecimal(valueBytes, out long length) || (contentLength >= 0 && contentLength != length))
                    {
                        error = "invalid or conflicting Content-Length";
                        return OperationStatus.InvalidData;
                    }

                    odd |= contentLength >= 0;
                    contentLength = length;
                    break;
                case 17 when Ascii.EqualsIgnoreCase(nameBytes, "Transfer-Encoding"u8):
                    string value = Ascii.EqualsIgnoreCase(valueBytes, "chunked"u8) ? ChunkedToken : Encoding.Latin1.GetString(valueBytes);
                    transferEncoding = transferEncoding is null ? value : transferEncoding + ", " + value;
                    break;
            }
        }

        if (wholeHead.Count((byte)'\r') != lines)
        {
            error = "control character in the response head";
            return OperationStatus.InvalidData;
        }

        if (contentLength >= 0 && transferEncoding is not null)
        {
            // RFC 9112 section 6.3: such a message "ought to be handled as an error"; it is the classic smuggling shape,
            // and clients disagree on which header wins (HttpClient takes the length unless the coding is chunked).
            error = "both Content-Length and Transfer-Encoding";
            return OperationStatus.InvalidData;
        }

        bool chunked = false;
        string? otherCodings = null;
        if (transferEncoding is not null && !TryParseCodings(transferEncoding, out chunked, out otherCodings))
        {
            error = "invalid Transfer-Encoding: chunked must be the final coding, once";
            return OperationStatus.InvalidData;
        }

        Status = status;
        ConnectionNames = Connection is null or KeepAliveToken or CloseToken ? null : Connection;
        // The two usual values (ConnectionValue turns them into these tokens, whatever their case) are settled without
        // scanning a list.
        KeepAlive = Connection switch
        {
            null => http11,
            KeepAliveToken => true,
            CloseToken => false,
            _ => !HeaderRules.ListContains(Connection, "close") && (http11 || HeaderRules.ListContains(Connection, "keep-alive")),
        };

        // RFC 9110 sections 8.6 and 9112 6.1: no length or coding on a 1xx or 204; RFC 9112 6.3: both framings at once
        // "ought to be handled as an error". Relayed, but the connection is not trusted with another request.
        odd |= (status < 200 || status == 204) && (contentLength >= 0 || transferEncoding is not null);
        KeepAlive &= !odd;
        ContentLength = contentLength;
        if (requestWasHead || status is 204 or 304 || status < 200)
        {
            // These end at the blank line, whatever their headers say (RFC 9112 section 6.3).
            Framing = BodyFraming.None;
        }
        else if (transferEncoding is not null)
        {
            // Any other final coding is delimited by close (RFC 9112 section 6.3), and the codings go on to the client.
            Framing = chunked ? BodyFraming.Chunked : BodyFraming.UntilClose;
            OtherCodings = otherCodings;
            // RFC 9112 section 6.1: a coding on an HTTP/1.0 message means its framing is faulty; close after it.
            KeepAlive &= chunked && http11;
        }
        else if (contentLength >= 0)
        {
            Framing = BodyFraming.ContentLength;
        }
        else
        {
            Framing = BodyFraming.UntilClose;
            KeepAlive = false;
        }

        RelaysContentLength = contentLength >= 0 && (Framing == BodyFraming.ContentLength || (requestWasHead && status is not (204 or 304) && status >= 200));
        consumed = end + HeadEnd.Length;
        return OperationStatus.Done;
    }

    /// <summary>
    /// Reads a Transfer-Encoding list: <paramref name="chunked"/> when <c>chunked</c> is the final coding, and the codings
    /// before it (or all of them) in <paramref name="others"/>, as received. False when <c>chunked</c> comes anywhere but
    /// last or more than once (a proxy cannot re-frame such a body without applying chunked twice), or a coding is not a
    /// token, or the list is empty.
    /// </summary>
    internal static bool TryParseCodings(string value, out bool chunked, out string? others)
    {
        chunked = false;
        others = null;
        if (ReferenceEquals(value, ChunkedToken))
        {
            chunked = true;
            return true;
        }

        bool any = false;
        foreach (Range range in value.AsSpan().Split(','))
        {
            ReadOnlySpan<char> coding = value.AsSpan()[range].Trim(" \t");
            if (coding.IsEmpty)
            {
                continue;
            }

            int semicolon = coding.IndexOf(';');
            ReadOnlySpan<char> name = (semicolon < 0 ? coding : coding[..semicolon]).TrimEnd(" \t");
            if (chunked || !HttpSyntax.IsToken(name))
            {
                return false;
            }

            any = true;
            if (name.Equals("chunked", StringComparison.OrdinalIgnoreCase))
            {
                if (semicolon >= 0)
                {
                    return false;
                }

                chunked = true;
                continue;
            }

            if (name.Equals("identity", StringComparison.OrdinalIgnoreCase))
            {
                // Not a transfer coding since RFC 7230; relaying it would name a coding the client does not know.
                continue;
            }

            others = others is null ? coding.ToString() : string.Concat(others, ", ", coding);
        }

        return any;
    }

    /// <summary>The Connection value as a string; the usual two without allocating.</summary>
    private static string ConnectionValue(ReadOnlySpan<byte> value) =>
        Ascii.EqualsIgnoreCase(value, "keep-alive"u8) ? KeepAliveToken
        : Ascii.EqualsIgnoreCase(value, "close"u8) ? CloseToken
        : Encoding.Latin1.GetString(value);

    private static bool TryParseStatusLine(ReadOnlySpan<byte> line, out int status, out bool http11)
    {
        status = 0;
        http11 = false;
        // "HTTP/1.1 200" then an optional " reason".
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || line[7] is not ((byte)'0' or (byte)'1') || line[8] != (byte)' '
            || (line.Length > 12 && line[12] != (byte)' '))
        {
            return false;
        }

        http11 = line[7] == (byte)'1';
        for (int i = 9; i < 12; i++)
        {
            if (!char.IsAsciiDigit((char)line[i]))
            {
                return false;
            }

            status = (status * 10) + (line[i] - '0');
        }

        return status >= 100;
    }
}
