using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Loadwise.AotProxy.Configuration;

/// <summary>
/// The configuration as JSON (source-generated, AOT-safe): what <c>GET /admin/config</c> shows, with secrets redacted,
/// and how a reload tells which keys changed.
/// </summary>
/// <example><code>
/// JsonObject effective = ProxyOptionsJson.Redacted(options);
/// IReadOnlyList&lt;string&gt; changed = ProxyOptionsJson.ChangedKeys(running, next);
/// </code></example>
internal static class ProxyOptionsJson
{
    /// <summary>Keys a reload cannot change in a running proxy (the listeners, Kestrel's limits, the runtime): they take a restart.</summary>
    public static readonly string[] RestartOnly =
    [
        "Listen", "Limits", "Performance", "Metrics", "Admin:Listen", "Drain", "Log", "Reload", "Timeouts:IdleMs", "Retries:MaxBufferedBodyBytes",
        "AccessLog", "Telemetry", "State", "Tls", "Http2",
    ];

    /// <summary>
    /// Gets the configuration as a JSON object, every key present, secrets replaced by <c>***</c> (see <see cref="Redact"/>).
    /// </summary>
    public static JsonObject Redacted(ProxyOptions options)
    {
        var json = (JsonObject)JsonSerializer.SerializeToNode(options, ProxyOptionsJsonContext.Default.ProxyOptions)!;
        Redact(json);
        return json;
    }

    /// <summary>Gets the keys (<c>Section</c> or <c>Section:Key</c>, as in <see cref="RestartOnly"/>) whose values differ.</summary>
    public static List<string> ChangedKeys(ProxyOptions running, ProxyOptions next, IEnumerable<string> keys)
    {
        JsonNode before = JsonSerializer.SerializeToNode(running, ProxyOptionsJsonContext.Default.ProxyOptions)!;
        JsonNode after = JsonSerializer.SerializeToNode(next, ProxyOptionsJsonContext.Default.ProxyOptions)!;
        var changed = new List<string>();
        foreach (string key in keys)
        {
            if (!JsonNode.DeepEquals(At(before, key), At(after, key)))
            {
                changed.Add(key);
            }
        }

        return changed;
    }

    private static JsonNode? At(JsonNode root, string key)
    {
        JsonNode? node = root;
        foreach (string part in key.Split(':'))
        {
            node = node?[part];
        }

        return node;
    }

    /// <summary>
    /// Replaces secrets in place: the value of a key named like a secret (password, token, secret, key), the user-info
    /// of a URL, and the value of <c>password=</c> in a connection string.
    /// </summary>
    internal static void Redact(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (KeyValuePair<string, JsonNode?> property in obj.ToList())
                {
                    if (property.Value is JsonValue secret && SecretKey(property.Key))
                    {
                        obj[property.Key] = "***";
                    }
                    else if (property.Value is JsonValue value && value.TryGetValue(out string? text) && RedactUserInfo(text) is { } redacted)
                    {
                        obj[property.Key] = redacted;
                    }
                    else
                    {
                        Redact(property.Value);
                    }
                }

                break;
            case JsonArray array:
                for (int i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonValue value && value.TryGetValue(out string? text) && RedactUserInfo(text) is { } redacted)
                    {
                        array[i] = redacted;
                    }
                    else
                    {
                        Redact(array[i]);
                    }
                }

                break;
        }
    }

    // A file or variable that holds a secret names it, and is not one: TokenFile and TokenEnvironmentVariable stay.
    private static bool SecretKey(string key) =>
        !key.EndsWith("File", StringComparison.Ordinal) && !key.EndsWith("Variable", StringComparison.Ordinal)
        && (key.Contains("password", StringComparison.OrdinalIgnoreCase) || key.Contains("secret", StringComparison.OrdinalIgnoreCase)
            || key.EndsWith("Token", StringComparison.OrdinalIgnoreCase) || key.EndsWith("ApiKey", StringComparison.OrdinalIgnoreCase));

    private static string? RedactUserInfo(string text)
    {
        // The user-info as written, between "://" and the last '@' before the path (Uri.UserInfo is the escaped form,
        // which a password with %40 or a space would not match).
        int scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0)
        {
            int authorityEnd = text.IndexOfAny(['/', '?', '#'], scheme + 3);
            string authority = authorityEnd < 0 ? text[(scheme + 3)..] : text[(scheme + 3)..authorityEnd];
            int userEnd = authority.LastIndexOf('@');
            if (userEnd >= 0)
            {
                return string.Concat(text.AsSpan(0, scheme + 3), "***", text.AsSpan(scheme + 3 + userEnd));
            }
        }

        // StackExchange.Redis and ADO.NET style: "host:6379,password=...,ssl=true" or "Server=...;Password=...".
        int at = text.IndexOf("password=", StringComparison.OrdinalIgnoreCase);
        if (at < 0)
        {
            return null;
        }

        int start = at + "password=".Length;
        int end = text.IndexOfAny([',', ';'], start);
        return string.Concat(text.AsSpan(0, start), "***", end < 0 ? "" : text.AsSpan(end));
    }
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(ProxyOptions))]
internal sealed partial class ProxyOptionsJsonContext : JsonSerializerContext;
