using System.Globalization;
#if LOADWISE_REDIS
using StackExchange.Redis;
#endif

namespace Loadwise.AotProxy.State;

/// <summary>
/// State shared with the other proxies that name the same Redis and key prefix (the <c>State</c> section): backend
/// health (an ejection by one proxy excludes the backend on all of them). Off while <see cref="Redis"/> is unset.
/// </summary>
internal sealed class StateOptions
{
    /// <summary>Gets or sets the Redis to share state through (a StackExchange.Redis configuration such as <c>127.0.0.1:6379</c>); null for none.</summary>
    public string? Redis { get; set; }

    /// <summary>Gets or sets the prefix of every key and channel; one per fleet when fleets share a Redis.</summary>
    public string? KeyPrefix { get; set; } = "lw:";

    /// <summary>Gets or sets how many proxies must see a backend Unhealthy before all of them exclude it (1: any one).</summary>
    public int EjectQuorum { get; set; } = 1;

    /// <summary>Gets or sets how often the shared health is re-read in full (announcements cover the time between).</summary>
    public int ReconcileMs { get; set; } = 1_000;

    /// <summary>Gets or sets how long a Redis call may take before Redis is taken as out (the proxy then keeps its own view).</summary>
    public int OperationTimeoutMs { get; set; } = 250;
}

/// <summary>The <c>State</c> section's rules, in the validator's one-line form.</summary>
internal static class StateOptionsRules
{
    public static void Validate(StateOptions state, List<string> problems)
    {
        if (state.Redis is null)
        {
            return;
        }

        if (!BuiltIn)
        {
            problems.Add("State:Redis: this binary was built without Redis, expected no State:Redis or a build with it (dotnet publish -p:LoadwiseRedis=true)");
            return;
        }

        if (!TryParse(state.Redis))
        {
            problems.Add($"State:Redis: got '{state.Redis}', expected a Redis endpoint such as 127.0.0.1:6379 (StackExchange.Redis configuration syntax)");
        }

        if (state.KeyPrefix is null || state.KeyPrefix.AsSpan().IndexOfAny('{', '}') >= 0)
        {
            problems.Add($"State:KeyPrefix: got '{state.KeyPrefix ?? "(missing)"}', expected a prefix without '{{' or '}}' such as lw:");
        }

        Range(problems, "State:EjectQuorum", state.EjectQuorum, 1, 1_000);
        Range(problems, "State:ReconcileMs", state.ReconcileMs, 100, 600_000);
        Range(problems, "State:OperationTimeoutMs", state.OperationTimeoutMs, 10, 60_000);
    }

    /// <summary>Whether this build has the Redis integration (<c>-p:LoadwiseRedis</c>).</summary>
#if LOADWISE_REDIS
    public static bool BuiltIn => true;

    private static bool TryParse(string configuration)
    {
        try
        {
            return !string.IsNullOrWhiteSpace(configuration) && ConfigurationOptions.Parse(configuration).EndPoints.Count > 0;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
#else
    public static bool BuiltIn => false;

    private static bool TryParse(string configuration) => !string.IsNullOrWhiteSpace(configuration);
#endif

    private static void Range(List<string> problems, string key, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{key}: got '{value}', expected an integer from {min} to {max}"));
        }
    }
}
