using System.Text;
using Loadwise.AotProxy.Http;

namespace Loadwise.AotProxy.Downstream;

/// <summary>Writes a backend's response head for a client: the status line and the end-to-end fields, framed by the proxy.</summary>
internal static class ResponseWriter
{
    /// <summary>
    /// Writes the status line, the fields the backend sent that are not hop-by-hop (lines already written
    /// <c>Name: value</c> copied as they came), then the framing the proxy writes itself: Content-Length from the parsed
    /// length, or Transfer-Encoding with the backend's other codings and chunked. The caller adds Date, Connection and
    /// the blank line.
    /// </summary>
    /// <example><code>ResponseWriter.WriteHead(ref output, connection.Buffer.AsSpan(head.Offset), head, chunked: false);</code></example>
    public static void WriteHead(ref HttpOutputBuffer writer, ReadOnlySpan<byte> source, ResponseHead head, bool chunked)
    {
        writer.Append(ResponseHeadBytes.StatusLine(head.Status));
        string? connectionNames = head.ConnectionNames;
        // Consecutive kept lines already written "Name: value" are copied as one block: a typical head is two or three
        // copies instead of four appends per field.
        int runStart = 0;
        int runEnd = -1;
        foreach (HeaderField field in head.Fields)
        {
            ReadOnlySpan<byte> name = field.Name(source);
            // Content-Length is written below from the parsed length, so a Connection header that names it, or a repeat,
            // cannot leave a body unframed or framed twice. (A skipped line ends the run of copied lines: the next one
            // does not start where the run ends.)
            if (HeaderRules.IsHopByHop(name, connectionNames) || (name.Length == 14 && Ascii.EqualsIgnoreCase(name, "Content-Length"u8)))
            {
                continue;
            }

            bool canonical = field.IsCanonical(source);
            if (canonical && field.NameStart == runEnd)
            {
                runEnd = field.LineEnd;
                continue;
            }

            FlushRun(ref writer, source, runStart, runEnd);
            if (canonical)
            {
                runStart = field.NameStart;
                runEnd = field.LineEnd;
            }
            else
            {
                runEnd = -1;
                writer.AppendField(name, field.Value(source));
            }
        }

        FlushRun(ref writer, source, runStart, runEnd);
        if (head.RelaysContentLength)
        {
            writer.Append("Content-Length: "u8);
            writer.Append(head.ContentLength);
            writer.Append("\r\n"u8);
        }
        else if (chunked)
        {
            writer.Append("Transfer-Encoding: "u8);
            if (head.OtherCodings is { } codings)
            {
                // gzip and the like stay on the body; only the chunked framing is the proxy's own.
                writer.Append(codings);
                writer.Append(", "u8);
            }

            writer.Append("chunked\r\n"u8);
        }
    }

    /// <summary>Writes the run of kept lines copied as they came, if one is open.</summary>
    private static void FlushRun(ref HttpOutputBuffer writer, ReadOnlySpan<byte> source, int runStart, int runEnd)
    {
        if (runEnd >= 0)
        {
            writer.Append(source[runStart..runEnd]);
        }
    }
}
