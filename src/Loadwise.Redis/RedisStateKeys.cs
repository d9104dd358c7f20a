using StackExchange.Redis;

namespace Loadwise.Redis;

/// <summary>
/// Names the Redis keys and channel. Every key of one entity carries that entity in a <c>{…}</c> hash tag, so that a
/// script touching several keys of one node (its quota dimensions) stays in one hash slot on Redis Cluster.
/// </summary>
internal sealed class RedisStateKeys(string prefix)
{
    public string Prefix { get; } = prefix;

    /// <summary>The channel every health write is announced on (a message is the state key).</summary>
    public RedisChannel HealthChannel { get; } = RedisChannel.Literal(prefix + "health");

    /// <summary>The hash holding one state key's merged state and its writers' votes.</summary>
    public RedisKey State(string key) => Prefix + "s{" + Escape(key) + "}";

    /// <summary>The pattern matching every state hash whose key starts with <paramref name="keyPrefix"/>.</summary>
    public string StatePattern(string keyPrefix) => Prefix + "s{" + GlobEscape(Escape(keyPrefix)) + "*";

    /// <summary>Recovers the state key from a state hash's name.</summary>
    public string? StateKeyOf(string redisKey)
    {
        string head = Prefix + "s{";
        return redisKey.StartsWith(head, StringComparison.Ordinal) && redisKey.EndsWith('}')
            ? Unescape(redisKey[head.Length..^1])
            : null;
    }

    /// <summary>The sorted set of the instances that vote on health, scored by their last heartbeat (Redis time, ms).</summary>
    public RedisKey Voters => Prefix + "voters";

    /// <summary>The hash of one quota dimension of one node; all of a node's dimensions share the node's hash tag.</summary>
    public RedisKey Quota(string node, string dimension) => Prefix + "q{" + Escape(node) + "}" + dimension;

    // A '}' inside the tag would end it early and split one entity over slots; '{' is escaped so the mapping is reversible.
    private static string Escape(string value) =>
        value.AsSpan().IndexOfAny('{', '}', '%') < 0 ? value : value.Replace("%", "%25", StringComparison.Ordinal).Replace("{", "%7B", StringComparison.Ordinal).Replace("}", "%7D", StringComparison.Ordinal);

    private static string Unescape(string value) =>
        value.Contains('%', StringComparison.Ordinal) ? value.Replace("%7B", "{", StringComparison.Ordinal).Replace("%7D", "}", StringComparison.Ordinal).Replace("%25", "%", StringComparison.Ordinal) : value;

    private static string GlobEscape(string value)
    {
        if (value.AsSpan().IndexOfAny("*?[]\\") < 0)
        {
            return value;
        }

        var escaped = new System.Text.StringBuilder(value.Length + 8);
        foreach (char c in value)
        {
            if (c is '*' or '?' or '[' or ']' or '\\')
            {
                escaped.Append('\\');
            }

            escaped.Append(c);
        }

        return escaped.ToString();
    }
}
