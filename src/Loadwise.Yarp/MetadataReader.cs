using System.Globalization;

namespace Loadwise.Yarp;

/// <summary>
/// Reads the Loadwise metadata values. Each reader returns the value, or the default with an error message that names
/// the key, the bad value and the fix; the validator turns messages into configuration errors, a picker into a log line.
/// </summary>
internal static class MetadataReader
{
    public const int MaxPriority = 31;

    private static readonly string[] DestinationKeys = [LoadwiseMetadata.Weight, LoadwiseMetadata.Priority, LoadwiseMetadata.Backup];
    private static readonly string[] ClusterKeys = [LoadwiseMetadata.HashKey, LoadwiseMetadata.BalanceFactor];

    public static int Weight(IReadOnlyDictionary<string, string>? metadata, out string? error)
    {
        error = null;
        if (metadata is null || !metadata.TryGetValue(LoadwiseMetadata.Weight, out string? text))
        {
            return 1;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int weight) && weight <= LoadwiseMetadata.MaxWeight)
        {
            return weight;
        }

        error = $"metadata '{LoadwiseMetadata.Weight}' is '{text}'; it must be a whole number from 0 to {LoadwiseMetadata.MaxWeight} (1 is the default, 0 drains the destination), for example \"{LoadwiseMetadata.Weight}\": \"3\"";
        return 1;
    }

    public static int Priority(IReadOnlyDictionary<string, string>? metadata, out string? error)
    {
        error = null;
        if (metadata is null)
        {
            return 0;
        }

        bool backup = false;
        if (metadata.TryGetValue(LoadwiseMetadata.Backup, out string? flag) && !bool.TryParse(flag, out backup))
        {
            error = $"metadata '{LoadwiseMetadata.Backup}' is '{flag}'; it must be \"true\" or \"false\"";
        }

        if (!metadata.TryGetValue(LoadwiseMetadata.Priority, out string? text))
        {
            return backup ? 1 : 0;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int priority) && priority <= MaxPriority)
        {
            return priority;
        }

        error = $"metadata '{LoadwiseMetadata.Priority}' is '{text}'; it must be a whole number from 0 (primary, the default) to {MaxPriority}, for example \"{LoadwiseMetadata.Priority}\": \"1\"";
        return backup ? 1 : 0;
    }

    public static double BalanceFactor(IReadOnlyDictionary<string, string>? metadata, out string? error)
    {
        error = null;
        if (metadata is null || !metadata.TryGetValue(LoadwiseMetadata.BalanceFactor, out string? text))
        {
            return 1.25;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double factor) && factor >= 1.0 && !double.IsInfinity(factor))
        {
            return factor;
        }

        error = $"metadata '{LoadwiseMetadata.BalanceFactor}' is '{text}'; it must be a number of at least 1.0 (1.25 is the default, 1.2 to 2.0 is typical), for example \"{LoadwiseMetadata.BalanceFactor}\": \"1.5\"";
        return 1.25;
    }

    public static HashKeySource? HashKey(IReadOnlyDictionary<string, string>? metadata, out string? error)
    {
        error = null;
        if (metadata is null || !metadata.TryGetValue(LoadwiseMetadata.HashKey, out string? text))
        {
            error = $"metadata '{LoadwiseMetadata.HashKey}' is missing; a hashing policy needs it, for example \"{LoadwiseMetadata.HashKey}\": \"header:X-Session\" (or cookie:NAME, query:NAME, route:NAME, ip)";
            return null;
        }

        if (HashKeySource.TryParse(text, out HashKeySource? source))
        {
            return source;
        }

        error = $"metadata '{LoadwiseMetadata.HashKey}' is '{text}'; write header:NAME, cookie:NAME, query:NAME, route:NAME or ip, for example \"{LoadwiseMetadata.HashKey}\": \"header:X-Session\"";
        return null;
    }

    /// <summary>Returns the first key with the Loadwise prefix that is not one of <paramref name="cluster"/>'s level's keys.</summary>
    public static string? UnknownKey(IReadOnlyDictionary<string, string>? metadata, bool cluster)
    {
        if (metadata is null)
        {
            return null;
        }

        string[] known = cluster ? ClusterKeys : DestinationKeys;
        foreach (string key in metadata.Keys)
        {
            if (key.StartsWith(LoadwiseMetadata.Prefix, StringComparison.Ordinal) && Array.IndexOf(known, key) < 0)
            {
                return key;
            }
        }

        return null;
    }

    public static string KnownKeys(bool cluster) => string.Join(", ", cluster ? ClusterKeys : DestinationKeys);
}
