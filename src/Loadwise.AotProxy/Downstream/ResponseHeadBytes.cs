using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace Loadwise.AotProxy.Downstream;

/// <summary>Response head pieces written often: status lines by code, and the Date value of the current second.</summary>
internal static class ResponseHeadBytes
{
    private static readonly byte[]?[] StatusLines = new byte[600][];
    private static DateBytes? _date;

    /// <summary>Gets <c>HTTP/1.1 {code} {reason}\r\n</c> with the standard reason phrase (the backend's own is not relayed, as with Kestrel).</summary>
    public static byte[] StatusLine(int status)
    {
        if ((uint)status >= (uint)StatusLines.Length)
        {
            return Encoding.ASCII.GetBytes($"HTTP/1.1 {status} \r\n");
        }

        return StatusLines[status] ??= Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {ReasonPhrases.GetReasonPhrase(status)}\r\n");
    }

    /// <summary>Gets the IMF-fixdate of the current second (made once a second).</summary>
    public static byte[] Date()
    {
        // Keyed by the wall-clock second it shows, so it is never a second stale (a monotonic tick's seconds do not
        // line up with the clock's).
        DateTime now = DateTime.UtcNow;
        long second = now.Ticks / TimeSpan.TicksPerSecond;
        DateBytes? date = Volatile.Read(ref _date);
        if (date is null || date.Second != second)
        {
            date = new DateBytes(second, Encoding.ASCII.GetBytes(now.ToString("r", System.Globalization.CultureInfo.InvariantCulture)));
            Volatile.Write(ref _date, date);
        }

        return date.Bytes;
    }

    private sealed record DateBytes(long Second, byte[] Bytes);
}
