using System.Buffers;
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
/// The access log: formats one line per request on the request's thread, as ASCII bytes in a per-thread buffer (nothing
/// allocated), and copies it into a <see cref="LineWriter"/>, so a slow disk drops lines (counted) instead of slowing
/// requests. Every byte that came from the client is escaped, so a request cannot forge a line or a field: <c>\xHH</c>
/// in the common format as nginx does, <c>\uHHHH</c> in JSON.
/// </summary>
/// <example><code>
/// var log = new AccessLog(json: false, AccessLog.ParseFields(["client", "status"]), writer, TimeProvider.System);
/// log.Write(peer, "GET", "/", "", "HTTP/1.1", new AccessLogEntry(200, "b1", 0.4, 0.5, 12, 0));
/// </code></example>
internal sealed class AccessLog : IDisposable
{
    /// <summary>The most characters of a path or query written: with the queue's line count it bounds the memory queued.</summary>
    public const int MaxFieldChars = 2048;

    /// <summary>The most characters of a method written (HTTP/2 allows one as long as the header block).</summary>
    public const int MaxMethodChars = 32;

    /// <summary>The per-thread line buffer: lines needing more (long, escaped paths) borrow from the pool.</summary>
    private const int ThreadBufferBytes = 8192;

    private static readonly byte[][] NameBytes = [.. Enum.GetValues<AccessLogField>().Select(static f => Encoding.ASCII.GetBytes(Name(f)))];

    [ThreadStatic]
    private static byte[]? t_buffer;

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
            : [.. names.Distinct(StringComparer.Ordinal).Select(static n => Enum.GetValues<AccessLogField>().First(f => Name(f) == n))];

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
    public void Write(IPAddress? client, ReadOnlySpan<char> method, ReadOnlySpan<char> path, ReadOnlySpan<char> query, string protocol, in AccessLogEntry entry)
    {
        method = method.Length > MaxMethodChars ? method[..MaxMethodChars] : method;
        int room = AsciiLine.Room(method.Length + Math.Min(path.Length, MaxFieldChars) + Math.Min(query.Length, MaxFieldChars) + protocol.Length + (entry.Backend?.Length ?? 0));
        // The usual line fits the thread's buffer; a long one (escaped, up to 12 bytes a character) borrows a larger one.
        byte[] buffer = room <= ThreadBufferBytes ? t_buffer ??= new byte[ThreadBufferBytes] : ArrayPool<byte>.Shared.Rent(room);
        try
        {
            var line = new AsciiLine(buffer);
            Format(ref line, _time.GetUtcNow(), client, method, path, query, protocol, entry);
            _writer.TryWrite(line.Written);
        }
        finally
        {
            if (buffer != t_buffer)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>Reopens the output file (after logrotate renamed it).</summary>
    public void Reopen() => _writer.Reopen();

    public void Dispose() => _writer.Dispose();

    /// <summary>Formats one line, without its line end, as a string (for tests and tools; requests use <see cref="Write"/>).</summary>
    internal string Format(DateTimeOffset time, IPAddress? client, ReadOnlySpan<char> method, ReadOnlySpan<char> path, ReadOnlySpan<char> query, string protocol, in AccessLogEntry entry)
    {
        var buffer = new byte[AsciiLine.Room(method.Length + path.Length + query.Length + protocol.Length + (entry.Backend?.Length ?? 0))];
        var line = new AsciiLine(buffer);
        Format(ref line, time, client, method, path, query, protocol, entry);
        return Encoding.ASCII.GetString(line.Written);
    }

    private void Format(ref AsciiLine line, DateTimeOffset time, IPAddress? client, ReadOnlySpan<char> method, ReadOnlySpan<char> path, ReadOnlySpan<char> query, string protocol, in AccessLogEntry entry)
    {
        // A longer field is cut and marked (an 8 KB request line escaped could take 32 KB of queue).
        bool pathCut = path.Length > MaxFieldChars, queryCut = query.Length > MaxFieldChars;
        path = pathCut ? path[..MaxFieldChars] : path;
        query = queryCut ? query[..MaxFieldChars] : query;
        if (_json)
        {
            FormatJson(ref line, time, client, method, path, query, entry, pathCut || queryCut);
        }
        else
        {
            FormatCommon(ref line, time, client, method, path, query, protocol, entry, pathCut || queryCut);
        }
    }

    private void FormatCommon(
        ref AsciiLine line, DateTimeOffset time, IPAddress? client, ReadOnlySpan<char> method, ReadOnlySpan<char> path, ReadOnlySpan<char> query, string protocol, in AccessLogEntry entry, bool cut)
    {
        // client - - [06/Dec/2026:05:52:00 +0000] "GET /path?query HTTP/1.1" 200 1234, as Apache and nginx write it.
        if (_has[(int)AccessLogField.Client] && client is not null)
        {
            line.AppendAddress(client);
        }
        else
        {
            line.Append('-');
        }

        line.Append(" - - "u8);
        if (_has[(int)AccessLogField.Time])
        {
            line.Append('[');
            line.Append(time.UtcDateTime, "dd/MMM/yyyy:HH:mm:ss");
            line.Append(" +0000]"u8);
        }
        else
        {
            line.Append('-');
        }

        line.Append(" \""u8);
        line.AppendEscaped(_has[(int)AccessLogField.Method] ? method : "-");
        line.Append(' ');
        line.AppendEscaped(_has[(int)AccessLogField.Path] ? path : "-");
        if (_has[(int)AccessLogField.Query] && !query.IsEmpty)
        {
            line.AppendEscaped(query);
        }

        line.Append(' ');
        line.AppendEscaped(protocol);
        line.Append("\" "u8);
        AppendOr(ref line, _has[(int)AccessLogField.Status], entry.Status);
        line.Append(' ');
        AppendOr(ref line, _has[(int)AccessLogField.Bytes], entry.Bytes);
        foreach (AccessLogField field in _fields)
        {
            switch (field)
            {
                case AccessLogField.Backend:
                    line.Append(" backend="u8);
                    line.AppendEscaped(entry.Backend ?? "-");
                    break;
                case AccessLogField.UpstreamMs:
                    line.Append(" upstream_ms="u8);
                    line.Append(entry.UpstreamMs, "0.000");
                    break;
                case AccessLogField.TotalMs:
                    line.Append(" total_ms="u8);
                    line.Append(entry.TotalMs, "0.000");
                    break;
                case AccessLogField.Retries:
                    line.Append(" retries="u8);
                    line.Append(entry.Retries);
                    break;
            }
        }

        if (cut)
        {
            line.Append(" truncated=1"u8);
        }
    }

    private void FormatJson(
        ref AsciiLine line, DateTimeOffset time, IPAddress? client, ReadOnlySpan<char> method, ReadOnlySpan<char> path, ReadOnlySpan<char> query, in AccessLogEntry entry, bool cut)
    {
        line.Append('{');
        bool first = true;
        foreach (AccessLogField field in _fields)
        {
            line.Append(first ? "\""u8 : ",\""u8);
            line.Append(NameBytes[(int)field]);
            line.Append("\":"u8);
            first = false;
            switch (field)
            {
                case AccessLogField.Time:
                    line.Append('"');
                    line.Append(time.UtcDateTime, "yyyy-MM-ddTHH:mm:ss.fffZ");
                    line.Append('"');
                    break;
                case AccessLogField.Client when client is not null:
                    line.Append('"');
                    line.AppendAddress(client);
                    line.Append('"');
                    break;
                case AccessLogField.Method:
                    line.AppendJsonString(method);
                    break;
                case AccessLogField.Path:
                    line.AppendJsonString(path);
                    break;
                case AccessLogField.Query:
                    line.AppendJsonString(query);
                    break;
                case AccessLogField.Status:
                    line.Append(entry.Status);
                    break;
                case AccessLogField.Backend when entry.Backend is not null:
                    line.AppendJsonString(entry.Backend);
                    break;
                case AccessLogField.UpstreamMs:
                    line.Append(entry.UpstreamMs, "0.000");
                    break;
                case AccessLogField.TotalMs:
                    line.Append(entry.TotalMs, "0.000");
                    break;
                case AccessLogField.Bytes:
                    line.Append(entry.Bytes);
                    break;
                case AccessLogField.Retries:
                    line.Append(entry.Retries);
                    break;
                default:
                    line.Append("null"u8);
                    break;
            }
        }

        line.Append(cut ? ",\"truncated\":true}"u8 : "}"u8);
    }

    private static void AppendOr(ref AsciiLine line, bool has, long value)
    {
        if (has)
        {
            line.Append(value);
        }
        else
        {
            line.Append('-');
        }
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
