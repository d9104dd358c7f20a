using System.Globalization;

namespace Loadwise.AotProxy.Configuration;

/// <summary>
/// The rules of the balancing keys: PeakEwma's decay and failure penalty, the bounded load of the hashing strategies,
/// the <c>SlowStart</c> section, and backend priorities and backups. Each problem names its key and what is allowed.
/// </summary>
/// <example><code>
/// var problems = new List&lt;string&gt;();
/// BalancingValidator.Validate(options, problems); // "SlowStart:Aggression: got '0', expected a number above 0 and at most 100 (1.0 ramps linearly)"
/// </code></example>
internal static class BalancingValidator
{
    /// <summary>The largest hash balance factor accepted, in percent (100 times the average).</summary>
    public const int MaxHashBalanceFactor = 10_000;

    /// <summary>Adds one line per problem.</summary>
    public static void Validate(ProxyOptions options, List<string> problems)
    {
        StrategyOptions strategy = options.Strategy;
        ProxyOptionsValidator.Range(problems, "Strategy:DecayMs", strategy.DecayMs, 1, 3_600_000);
        ProxyOptionsValidator.Range(problems, "Strategy:FailurePenaltyMs", strategy.FailurePenaltyMs, 0, 3_600_000);
        int factor = strategy.HashBalanceFactor;
        if (factor != 0 && (factor < 100 || factor > MaxHashBalanceFactor))
        {
            problems.Add($"Strategy:HashBalanceFactor: got '{Format(factor)}', expected 0 (no bound) or a percentage from 100 to {Format(MaxHashBalanceFactor)} (150: no backend above 1.5 times the average in-flight requests)");
        }
        else if (factor != 0 && StrategyNames.IsKnown(strategy.Name) && !StrategyNames.IsKeyed(strategy.Name))
        {
            problems.Add($"Strategy:HashBalanceFactor: got '{Format(factor)}', expected 0 with Strategy:Name '{strategy.Name}': the bound applies to ConsistentHash and Maglev only");
        }

        SlowStartOptions slowStart = options.SlowStart;
        ProxyOptionsValidator.Range(problems, "SlowStart:WindowMs", slowStart.WindowMs, 0, 3_600_000);
        if (!(slowStart.Aggression > 0 && slowStart.Aggression <= 100))
        {
            problems.Add($"SlowStart:Aggression: got '{Format(slowStart.Aggression)}', expected a number above 0 and at most 100 (1.0 ramps linearly)");
        }

        if (!(slowStart.MinWeightPercent is >= 0 and <= 100))
        {
            problems.Add($"SlowStart:MinWeightPercent: got '{Format(slowStart.MinWeightPercent)}', expected a number from 0 to 100");
        }

        ValidatePriorities(options.Backends, problems);
    }

    private static void ValidatePriorities(List<BackendOptions> backends, List<string> problems)
    {
        bool inRange = true;
        for (int i = 0; i < backends.Count; i++)
        {
            if (backends[i].Priority is < 0 or > BackendLevels.MaxLevel)
            {
                inRange = false;
                problems.Add($"Backends:{i}:Priority: got '{Format(backends[i].Priority)}', expected an integer from 0 (primary) to {BackendLevels.MaxLevel}");
            }
        }

        if (backends.Count == 0 || !inRange)
        {
            return;
        }

        int firstBackup = BackendLevels.FirstBackupLevel(backends);
        if (backends.TrueForAll(static b => b.Backup))
        {
            problems.Add("Backends: got a backup in every entry, expected at least one primary backend (Backup false): backups take traffic only while no primary is available");
            return;
        }

        for (int i = 0; i < backends.Count; i++)
        {
            if (backends[i].Backup && firstBackup + backends[i].Priority > BackendLevels.MaxLevel)
            {
                problems.Add($"Backends:{i}:Priority: got '{Format(backends[i].Priority)}', expected at most {Format(BackendLevels.MaxLevel - firstBackup)} for a backup: backups take the levels after the primaries' highest ({Format(firstBackup - 1)}), and levels end at {BackendLevels.MaxLevel}");
            }
        }
    }

    private static string Format(double value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// The priority level of each backend: a primary's level is its <c>Priority</c>; backups come after the primaries'
/// highest level, in the order of their own <c>Priority</c>, so that they take traffic only when no primary is available.
/// </summary>
/// <example><code>
/// int[] levels = BackendLevels.Of(options.Backends, out int firstBackup); // primaries 0 and 1, a backup: [0, 1, 2], firstBackup 2
/// </code></example>
internal static class BackendLevels
{
    /// <summary>The highest level (Core's priority filter has 32).</summary>
    public const int MaxLevel = 31;

    /// <summary>The level of the first backup: one above the highest primary level.</summary>
    public static int FirstBackupLevel(List<BackendOptions> backends)
    {
        int highest = 0;
        foreach (BackendOptions backend in backends)
        {
            highest = backend.Backup ? highest : Math.Max(highest, backend.Priority);
        }

        return highest + 1;
    }

    /// <summary>
    /// Gets each backend's level (validated options), and the first backup level, or <see cref="MaxLevel"/> + 1 when
    /// there is no backup. Returns null when every backend is a primary at level 0 (no priorities to apply).
    /// </summary>
    public static int[]? Of(List<BackendOptions> backends, out int firstBackup)
    {
        bool backups = backends.Exists(static b => b.Backup);
        firstBackup = backups ? FirstBackupLevel(backends) : MaxLevel + 1;
        if (!backups && backends.TrueForAll(static b => b.Priority == 0))
        {
            return null;
        }

        var levels = new int[backends.Count];
        for (int i = 0; i < levels.Length; i++)
        {
            levels[i] = backends[i].Backup ? firstBackup + backends[i].Priority : backends[i].Priority;
        }

        return levels;
    }
}
