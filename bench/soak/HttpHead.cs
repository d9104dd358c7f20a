namespace Loadwise.Soak;

/// <summary>A parsed HTTP/1.1 message head: the start line and the header fields, checked against the grammar.</summary>
internal sealed class HttpHead
{
    private HttpHead(string startLine, List<KeyValuePair<string, string>> fields)
    {
        StartLine = startLine;
        Fields = fields;
    }

    public string StartLine { get; }

    public List<KeyValuePair<string, string>> Fields { get; }

    /// <summary>Parses a head (without its final empty line); throws <see cref="ProtocolViolationException"/> on a bad field.</summary>
    public static HttpHead Parse(string head)
    {
        string[] lines = head.Split("\r\n");
        var fields = new List<KeyValuePair<string, string>>(lines.Length - 1);
        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i];
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !IsToken(line.AsSpan(0, colon)))
            {
                throw new ProtocolViolationException($"bad header line '{ByteReader.Printable(line)}'");
            }

            fields.Add(new(line[..colon], line[(colon + 1)..].Trim(' ', '\t')));
        }

        return new HttpHead(lines[0], fields);
    }

    public string? Get(string name)
    {
        string? found = null;
        foreach (var field in Fields)
        {
            if (field.Key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                found = found is null ? field.Value : found + ", " + field.Value;
            }
        }

        return found;
    }

    public int Count(string name) => Fields.Count(f => f.Key.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Whether <c>Transfer-Encoding</c> ends in <c>chunked</c>.</summary>
    public bool IsChunked => Get("Transfer-Encoding") is { } te && te.TrimEnd().EndsWith("chunked", StringComparison.OrdinalIgnoreCase);

    /// <summary>The Content-Length when present and well formed (digits only); throws on a bad one.</summary>
    public long? ContentLength()
    {
        string? value = Get("Content-Length");
        if (value is null)
        {
            return null;
        }

        if (value.Length is 0 or > 18 || !value.All(char.IsAsciiDigit))
        {
            throw new ProtocolViolationException($"bad Content-Length '{ByteReader.Printable(value)}'");
        }

        return long.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    public bool ConnectionClose => Get("Connection") is { } c && c.Contains("close", StringComparison.OrdinalIgnoreCase);

    private static bool IsToken(ReadOnlySpan<char> name)
    {
        foreach (char c in name)
        {
            bool ok = char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal);
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }
}
