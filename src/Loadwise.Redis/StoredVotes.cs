using System.Globalization;
using StackExchange.Redis;

namespace Loadwise.Redis;

/// <summary>
/// One state hash as read: the merged state and how many writers' own latest view is Unhealthy, counting only the
/// writers in <c>voters</c> (those with a recent heartbeat) when given, so a crashed instance's vote stops counting.
/// </summary>
internal sealed record StoredVotes(string Key, NodeState State, int UnhealthyVotes)
{
    public static StoredVotes? Parse(string key, HashEntry[] fields, IReadOnlySet<string>? voters = null)
    {
        long status = -1, failures = 0, successes = 0, since = 0, retryAt = 0, updated = 0, version = 0;
        string writer = "";
        int unhealthy = 0;
        foreach (HashEntry field in fields)
        {
            string name = field.Name.ToString();
            switch (name)
            {
                case "s": status = (long)field.Value; break;
                case "f": failures = (long)field.Value; break;
                case "c": successes = (long)field.Value; break;
                case "ss": since = (long)field.Value; break;
                case "ra": retryAt = (long)field.Value; break;
                case "u": updated = (long)field.Value; break;
                case "v": version = (long)field.Value; break;
                case "w": writer = field.Value.ToString(); break;
                default:
                    if (name.StartsWith("o:", StringComparison.Ordinal) && IsUnhealthyVote(field.Value.ToString())
                        && (voters is null || voters.Contains(name[2..])))
                    {
                        unhealthy++;
                    }

                    break;
            }
        }

        if (status < 0 || !Enum.IsDefined((HealthStatus)status))
        {
            return null; // nothing merged yet (only votes), or a value this version does not know
        }

        var state = new NodeState
        {
            Status = (HealthStatus)status,
            ConsecutiveFailures = (int)Math.Clamp(failures, 0, int.MaxValue),
            ConsecutiveSuccesses = (int)Math.Clamp(successes, 0, int.MaxValue),
            StatusSince = RedisStateStore.FromMicros(since),
            RetryAt = retryAt > 0 ? RedisStateStore.FromMicros(retryAt) : null,
            UpdatedAt = RedisStateStore.FromMicros(updated),
            Version = version,
            Writer = writer,
        };
        return new StoredVotes(key, state, unhealthy);
    }

    // A vote is "<version>:<status>".
    private static bool IsUnhealthyVote(string vote)
    {
        int colon = vote.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && int.TryParse(vote.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int status) && status == (int)HealthStatus.Unhealthy;
    }
}
