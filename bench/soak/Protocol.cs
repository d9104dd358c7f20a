using System.Text;

namespace Loadwise.Soak;

/// <summary>
/// What clients and backends agree on: the request id (header <c>X-Request-Id</c> and path <c>/r/{id}</c>), the echo
/// body every backend answers with, and the checksum of a POST body.
/// </summary>
internal static class Protocol
{
    public const string RequestIdHeader = "X-Request-Id";
    public const string EchoIdHeader = "X-Echo-Id";

    /// <summary>Set on a stray response (one no request asked for): what sent it, after which request, and when.</summary>
    public const string StrayHeader = "X-Soak-Stray";

    public const int CounterDigits = 10;

    /// <summary>Ids look like <c>SOAK-1a2b3c4d-0000000042</c>: the run's prefix (random per run), then a counter.</summary>
    public static string IdPrefix(string run) => $"SOAK-{run}-";

    public static string NewId(string run, long counter) => $"SOAK-{run}-{counter.ToString("D" + CounterDigits, System.Globalization.CultureInfo.InvariantCulture)}";

    public const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    /// <summary>FNV-1a 64 over a body, continued from <paramref name="hash"/> (start at <see cref="FnvOffset"/>).</summary>
    public static ulong Fnv1a(ulong hash, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
        {
            hash = (hash ^ b) * FnvPrime;
        }

        return hash;
    }

    /// <summary>The echo body: the id from the path, the id from the header, the POST body's length and checksum, and who answered.</summary>
    public static string EchoBody(string pathId, string headerId, long length, ulong checksum, string backend)
        => $"id={pathId};hid={headerId};len={length};sum={checksum:x16};be={backend}\n";

    /// <summary>The id in a request target <c>/r/{id}</c>, or empty.</summary>
    public static string PathId(string target)
    {
        int q = target.IndexOf('?', StringComparison.Ordinal);
        string path = q < 0 ? target : target[..q];
        return path.StartsWith("/r/", StringComparison.Ordinal) ? path[3..] : string.Empty;
    }

    /// <summary>Every id of this run found in <paramref name="text"/>, in order.</summary>
    public static IEnumerable<string> FindIds(string text, string prefix)
    {
        int at = 0;
        while ((at = text.IndexOf(prefix, at, StringComparison.Ordinal)) >= 0)
        {
            int end = at + prefix.Length;
            while (end < text.Length && end - at - prefix.Length < CounterDigits && char.IsAsciiDigit(text[end]))
            {
                end++;
            }

            yield return text[at..end];
            at = end;
        }
    }

    /// <summary>Reads one field of an echo body (<c>len</c>, <c>sum</c>, ...), or null.</summary>
    public static string? Field(string body, string name)
    {
        string key = name + "=";
        int at = body.StartsWith(key, StringComparison.Ordinal) ? 0 : body.IndexOf(";" + key, StringComparison.Ordinal) + 1;
        if (at < 0 || (at == 0 && !body.StartsWith(key, StringComparison.Ordinal)))
        {
            return null;
        }

        int start = at + key.Length;
        int end = body.IndexOfAny([';', '\n'], start);
        return end < 0 ? body[start..] : body[start..end];
    }

    public static string Latin1(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    public static byte[] Ascii(string text) => Encoding.Latin1.GetBytes(text);
}
