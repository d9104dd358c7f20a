using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.Hosting;

/// <summary>Applies <see cref="PerformanceOptions"/> to the process.</summary>
internal static class RuntimeTuning
{
    /// <summary>The runtime's switch for running socket completions inline on its event threads.</summary>
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Sets the process-wide switches. Call it before the process opens its first socket: the runtime reads the
    /// variable once, when its socket engine starts. An operator's own setting of the variable is left alone.
    /// </summary>
    /// <returns>True when inline completions are on for this process (by this call or by the environment).</returns>
    public static bool Apply(PerformanceOptions options) =>
        Apply(options, Environment.GetEnvironmentVariable, static (name, value) => Environment.SetEnvironmentVariable(name, value));

    /// <summary>As <see cref="Apply(PerformanceOptions)"/>, over the given environment (tests pass their own, not the process's).</summary>
    internal static bool Apply(PerformanceOptions options, Func<string, string?> read, Action<string, string> write)
    {
        string? explicitValue = read(InlineCompletionsVariable);
        if (explicitValue is not null)
        {
            return explicitValue == "1";
        }

        if (options.InlineSocketCompletions)
        {
            write(InlineCompletionsVariable, "1");
        }

        return options.InlineSocketCompletions;
    }
}
