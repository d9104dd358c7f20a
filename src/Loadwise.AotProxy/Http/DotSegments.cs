using System.Text;

namespace Loadwise.AotProxy.Http;

/// <summary>
/// Removes <c>.</c> and <c>..</c> segments from a request target's path (RFC 3986 section 5.2.4), with <c>%2e</c>
/// read as a dot, and leaves every other byte as the client sent it. The proxy prefixes a backend URL's base path to the
/// target, so a target that kept them (<c>/../admin</c>) would leave that base path once the backend, or HttpClient's
/// URI, resolved them; one that climbs above the root is refused (nginx answers it 400 too).
/// </summary>
/// <example><code>
/// DotSegments.TryRemove("/a/./b/../c?x=1", out string target); // true, "/a/c?x=1"
/// DotSegments.TryRemove("/../etc", out _);                      // false: above the root
/// </code></example>
internal static class DotSegments
{
    /// <summary>
    /// Returns false when the path climbs above its root; otherwise true, with <paramref name="target"/> the target
    /// without dot segments (the same string when it had none).
    /// </summary>
    public static bool TryRemove(string rawTarget, out string target)
    {
        target = rawTarget;
        int queryStart = rawTarget.IndexOf('?');
        string path = queryStart < 0 ? rawTarget : rawTarget[..queryStart];
        // A dot segment starts right after a slash; most paths have none (a dot in "/index.html" is not one).
        if (!path.StartsWith('/') || (!path.Contains("/.", StringComparison.Ordinal) && !path.Contains("/%2e", StringComparison.OrdinalIgnoreCase)))
        {
            return true;
        }

        var kept = new List<string>();
        string[] segments = path[1..].Split('/');
        bool endsInDirectory = false;
        foreach (string segment in segments)
        {
            string dots = segment.Replace("%2e", ".", StringComparison.OrdinalIgnoreCase);
            endsInDirectory = dots is "." or "..";
            if (dots == ".")
            {
                continue;
            }

            if (dots == "..")
            {
                if (kept.Count == 0)
                {
                    return false;
                }

                kept.RemoveAt(kept.Count - 1);
                continue;
            }

            kept.Add(segment);
        }

        var normalized = new StringBuilder(rawTarget.Length);
        foreach (string segment in kept)
        {
            normalized.Append('/').Append(segment);
        }

        if (endsInDirectory || normalized.Length == 0)
        {
            normalized.Append('/');
        }

        target = queryStart < 0 ? normalized.ToString() : normalized.Append(rawTarget, queryStart, rawTarget.Length - queryStart).ToString();
        return true;
    }
}
