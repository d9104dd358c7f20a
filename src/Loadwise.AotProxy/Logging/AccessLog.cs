using System.Globalization;
using System.Net;
using System.Text;

namespace Loadwise.AotProxy.Logging;

/// <summary>One request as the access log records it, besides what the request itself says.</summary>
/// <param name="Status">The status the client got; 499 when the client left first (nginx's code).</param>
/// <param name="Backend">The backend of the last attempt, or null when none was picked.</param>
/// <param name="UpstreamMs">Milliseconds spent in attempts to backends, all attempts summed.</param>
/// <param name="TotalMs">Milliseconds from the request's start to its end.</param>
/// <param name="Bytes">Response body bytes sent to the client.</param>
/// <param name="Retries">Attempts beyond the first.</param>
internal readonly record struct AccessLogEntry(int Status, string? Backend, double UpstreamMs, double TotalMs, long Bytes, int Retries);

/// <summary>
/// The access log: formats one line per request on the request's thread (one string, nothing else allocated) and hands
/// it to a <see cref="LineWriter"/>, so a slow disk drops lines (counted) instead of slowing requests. Every byte that
/// came from the client is escaped, so a request cannot forge a line or a field: <c>\xHH</c> in the common format as
/// nginx does, <c>\uHHHH</c> in JSON.
/// </summary>
/// <example><code>
/// var log = new AccessLog(json: false, AccessLog.ParseFields(["client", "status"]), writer, TimeProvider.System);
/// log.Write(peer, "GET", "/", "", "HTTP/1.1", new AccessLogEntry(200, "b1", 0.4, 0.5, 12, 0));
/// </code></example>
internal sealed class AccessLog : IDisposable
{
    /// <summary>The most characters of a path or query written: with the queue's line count it bounds the memory queued.</summary>
    public const int MaxFieldChars = 2048;

    [ThreadStatic]
    private static StringBuilder? t_line;

    private readonly bool _json;
    private readonly AccessLogField[] _fields;
    private readonly bool[] _has;
    private readonly LineWriter _writer;
    private readonly TimeProvider _time;

    /// <summary>Creates a log writing <paramref name="fields"/> in the given format to <paramref name="writer"/> (owned).</summary>
    public AccessLog(bool json, AccessLogField[] fields, LineWriter writer, TimeProvider time)
    {
        _json = json;
        _fields = fields;
        _has = new bool[Enum.GetValues<AccessLogField>().Length];
        foreach (AccessLogField field in fields)
        {
            _has[(int)field] = true;
        }

        _writer = writer;
        _time = time;
    }

    /// <summary>Gets whether the query string is written (it is only when listed in the fields).</summary>
    public bool LogsQuery => _has[(int)AccessLogField.Query];

    /// <summary>Gets how many lines were dropped because the output could not keep up.</summary>
    public long Dropped => _writer.DroppedTotal;

    /// <summary>Parses configured field names (validated); none: every field but <c>query</c>.</summary>
    public static AccessLogField[] ParseFields(IReadOnlyList<string> names) =>
        names.Count == 0
            ? [.. Enum.GetValues<AccessLogField>().Where(static f => f != AccessLogField.Query)]
            : [.. names.Select(static n => Enum.GetValues<AccessLogField>().First(f => Name(f) == n))];

    /// <summary>Gets the configuration name of a field.</summary>
    public static string Name(AccessLogField field) => field switch
    {
        AccessLogField.Time => "time",
        AccessLogField.Client => "client",
        AccessLogField.Method => "method",
        AccessLogField.Path => "path",
        AccessLogField.Query => "query",
        AccessLogField.Status => "status",
        AccessLogField.Backend => "backend",
        AccessLogField.UpstreamMs => "upstream_ms",
        AccessLogField.TotalMs => "total_ms",
        AccessLogField.Bytes => "bytes",
        _ => "retries",
    };

    /// <summary>Writes one request's line (dropped, and counted, when the writer is behind).</summary>
    public void Write(IPAddress? client, ReadOnlySpan<char> method, ReadOnlySpan<char> path, ReadOnlySpan<char> query, string protocol, in AccessLogEntry entry) =>
        _writer.TryWrite(Format(_time.GetUtcNow(), client, method, path, query, protocol, entry));

    /// <summary>Reopens the output file (after logrotate renamed it).</summary>
    public void Reopen() => _writer.Reopen();

    public void Dispose() => _writer.Dispose();

    /// <summary>Formats one line, without its line end.</summary>
    internal string Format(DateTimeOffset time, IPAddress? client, ReadOnlySpan<char> method, ReadOnlySpan<char> path, ReadOnlySpan<char> query, string protocol, in AccessLogEntry entry)
    {
        StringBuilder line = t_line ??= new StringBuilder(256);
        line.Clear();
        // A longer field is cut and marked (an 8 KB request line escaped could take 32 KB of queue).
        bool pathCut = path.Length > MaxFieldChars, queryCut = query.Length > MaxFieldChars;
        path = pathCut ? path[..MaxFieldChars] : path;
        query = queryCut ? query[..MaxFieldChars] : query;
        if (_json)
        {
            FormatJson(line, time, client, method, path, query, entry, pathCut || queryCut);
        }
        else
        {
            FormatCommon(line, time, client, method, path, query, protocol, entry, pathCut || queryCut);
        }

        string text = line.ToString();
        if (line.Capacity > 4096)
        {
            // One huge request line must not pin a large buffer to the thread for ever.
            t_line = null;
        }

        return text;
    }

    private void FormatCommon(
        StringBuilder line, DateTimeOffset time, IPAddress? client, ReadOnlySpan<char> method, ReadOnlySpan<char> path, ReadOnlySpan<char> query, string protocol, in AccessLogEntry entry, bool cut)
    {
        // client - - [06/Dec/2026:05:52:00 +0000] "GET /path?query HTTP/1.1" 200 1234, as Apache and nginx write it.
        if (_has[(int)AccessLogField.Client] && client is not null)
        {
            AppendAddress(line, client);
        }
        else
        {
            line.Append('-');
        }

        line.Append(" - - ");
        if (_has[(int)AccessLogField.Time])
        {
            line.Append('[').Append(CultureInfo.InvariantCulture, $"{time.UtcDateTime:dd/MMM/yyyy:HH:mm:ss} +0000").Append(']');
        }
        else
        {
            line.Append('-');
        }

        line.Append(" \"");
        AppendEscaped(line, _has[(int)AccessLogField.Method] ? method : "-");
        line.Append(' ');
        AppendEscaped(line, _has[(int)AccessLogField.Path] ? path : "-");
        if (_has[(int)AccessLogField.Query] && !query.IsEmpty)
        {
            AppendEscaped(line, query);
        }

        line.Append(' ').Append(protocol).Append("\" ");
        AppendOr(line, _has[(int)AccessLogField.Status], entry.Status);
        line.Append(' ');
        AppendOr(line, _has[(int)AccessLogField.Bytes], entry.Bytes);
        foreach (AccessLogField field in _fields)
        {
            switch (field)
            {
                case AccessLogField.Backend:
                    line.Append(" backend=");
                    AppendEscaped(line, entry.Backend ?? "-");
                    break;
                case AccessLogField.UpstreamMs:
                    line.Append(CultureInfo.InvariantCulture, $" upstream_ms={entry.UpstreamMs:0.000}");
                    break;
                case AccessLogField.TotalMs:
                    line.Append(CultureInfo.InvariantCulture, $" total_ms={entry.TotalMs:0.000}");
                    break;
                case AccessLogField.Retries:
                    line.Append(CultureInfo.InvariantCulture, $" retries={entry.Retries}");
                    break;
            }
        }

        if (cut)
        {
            line.Append(" truncated=1");
        }
    }

    private void FormatJson(
        StringBuilder line, DateTimeOffset time, IPAddress? client, ReadOnlySpan<char> method, ReadOnlySpan<char> path, ReadOnlySpan<char> query, in AccessLogEntry entry, bool cut)
    {
        line.Append('{');
        bool first = true;
        foreach (AccessLogField field in _fields)
        {
            line.Append(first ? "\"" : ",\"").Append(Name(field)).Append("\":");
            first = false;
            switch (field)
            {
                case AccessLogField.Time:
                    line.Append(CultureInfo.InvariantCulture, $"\"{time.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}\"");
                    break;
                case AccessLogField.Client when client is not null:
                    line.Append('"');
                    AppendAddress(line, client);
                    line.Append('"');
                    break;
                case AccessLogField.Method:
                    AppendJsonString(line, method);
                    break;
                case AccessLogField.Path:
                    AppendJsonString(line, path);
                    break;
                case AccessLogField.Query:
                    AppendJsonString(line, query);
                    break;
                case AccessLogField.Status:
                    line.Append(CultureInfo.InvariantCulture, $"{entry.Status}");
                    break;
                case AccessLogField.Backend when entry.Backend is not null:
                    AppendJsonString(line, entry.Backend);
                    break;
                case AccessLogField.UpstreamMs:
                    line.Append(CultureInfo.InvariantCulture, $"{entry.UpstreamMs:0.000}");
                    break;
                case AccessLogField.TotalMs:
                    line.Append(CultureInfo.InvariantCulture, $"{entry.TotalMs:0.000}");
                    break;
                case AccessLogField.Bytes:
                    line.Append(CultureInfo.InvariantCulture, $"{entry.Bytes}");
                    break;
                case AccessLogField.Retries:
                    line.Append(CultureInfo.InvariantCulture, $"{entry.Retries}");
                    break;
                default:
                    line.Append("null");
                    break;
            }
        }

        line.Append(cut ? ",\"truncated\":true}" : "}");
    }

    private static void AppendOr(StringBuilder line, bool has, long value)
    {
        if (has)
        {
            line.Append(CultureInfo.InvariantCulture, $"{value}");
        }
        else
        {
            line.Append('-');
        }
    }

    private static void AppendAddress(StringBuilder line, IPAddress address)
    {
        Span<char> text = stackalloc char[64];
        IPAddress shown = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        if (shown.TryFormat(text, out int written))
        {
            line.Append(text[..written]);
        }
    }

    /// <summary>Printable ASCII but <c>"</c> and <c>\</c> as is; every other byte of the UTF-8 text as <c>\xHH</c>.</summary>
    private static void AppendEscaped(StringBuilder line, ReadOnlySpan<char> text)
    {
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is > ' ' and < '\x7f' and not '"' and not '\\')
            {
                line.Append(c);
                continue;
            }

            int length = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])
                ? Encoding.UTF8.GetBytes(text.Slice(i++, 2), utf8)
                : Encoding.UTF8.GetBytes(text.Slice(i, 1), utf8);
            foreach (byte b in utf8[..length])
            {
                line.Append(CultureInfo.InvariantCulture, $"\\x{b:X2}");
            }
        }
    }

    /// <summary>A JSON string of ASCII only: control, non-ASCII, quote and backslash characters escaped.</summary>
    private static void AppendJsonString(StringBuilder line, ReadOnlySpan<char> text)
    {
        line.Append('"');
        foreach (char c in text)
        {
            if (c is >= ' ' and < '\x7f' and not '"' and not '\\')
            {
                line.Append(c);
            }
            else
            {
                line.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
        }

        line.Append('"');
    }
}

/// <summary>A field of the access log (configuration names in <see cref="AccessLog.Name"/>).</summary>
internal enum AccessLogField
{
    /// <summary>When the request ended.</summary>
    Time,

    /// <summary>The client's address.</summary>
    Client,

    /// <summary>The request method.</summary>
    Method,

    /// <summary>The request path.</summary>
    Path,

    /// <summary>The query string, with its <c>?</c>.</summary>
    Query,

    /// <summary>The status the client got.</summary>
    Status,

    /// <summary>The backend's id.</summary>
    Backend,

    /// <summary>Milliseconds in attempts to backends.</summary>
    UpstreamMs,

    /// <summary>Milliseconds from start to end.</summary>
    TotalMs,

    /// <summary>Response body bytes sent.</summary>
    Bytes,

    /// <summary>Attempts beyond the first.</summary>
    Retries,
}
