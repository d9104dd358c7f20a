using System.Globalization;

namespace Loadwise.AotProxy.Health;

/// <summary>A set of HTTP status codes (100-599) parsed from a list such as <c>500-599</c> or <c>500,502-504</c>.</summary>
internal sealed class StatusCodeSet
{
    private readonly bool[] _codes;

    private StatusCodeSet(bool[] codes) => _codes = codes;

    /// <summary>Returns whether <paramref name="statusCode"/> is in the set.</summary>
    public bool Contains(int statusCode) => (uint)statusCode < (uint)_codes.Length && _codes[statusCode];

    /// <summary>Parses a comma-separated list of codes and inclusive ranges; false for anything else (or an empty list).</summary>
    public static bool TryParse(string? text, out StatusCodeSet set)
    {
        var codes = new bool[600];
        set = new StatusCodeSet(codes);
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        foreach (string item in text.Split(',', StringSplitOptions.TrimEntries))
        {
            int dash = item.IndexOf('-', StringComparison.Ordinal);
            string first = dash < 0 ? item : item[..dash].Trim();
            string last = dash < 0 ? item : item[(dash + 1)..].Trim();
            if (!TryParseCode(first, out int from) || !TryParseCode(last, out int to) || from > to)
            {
                return false;
            }

            for (int code = from; code <= to; code++)
            {
                codes[code] = true;
            }
        }

        return true;
    }

    private static bool TryParseCode(string text, out int code) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out code) && code is >= 100 and <= 599;
}
