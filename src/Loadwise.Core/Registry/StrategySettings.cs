namespace Loadwise;

/// <summary>
/// A strategy chosen by name, with the settings some strategies take. Binds from configuration (for example the
/// <c>Strategy</c> section of a balancer) and is checked by <see cref="Validate"/>, whose messages name the key.
/// </summary>
/// <example>
/// <code>
/// var settings = new StrategySettings { Name = "ConsistentHash", VirtualNodes = 200, Fallback = "LeastLoad" };
/// ISelectionStrategy&lt;BackendNode&gt; strategy = StrategyRegistry.Create&lt;BackendNode, NodeTraits&lt;BackendNode&gt;&gt;(settings);
/// </code>
/// </example>
public sealed class StrategySettings
{
    /// <summary>Gets or sets the strategy name, case-insensitive (one of <see cref="StrategyRegistry.Names"/>).</summary>
    /// <example><code>settings.Name = "PowerOfTwoChoices";</code></example>
    public string? Name { get; set; } = "RoundRobin";

    /// <summary>Gets or sets the random strategies' starting value for their generators (unset: drawn at random).</summary>
    /// <example><code>settings.Seed = 42; // reproducible single-threaded sequences in tests</code></example>
    public ulong? Seed { get; set; }

    /// <summary>Gets or sets the ring points per node of ConsistentHash.</summary>
    /// <example><code>settings.VirtualNodes = 200;</code></example>
    public int VirtualNodes { get; set; } = 160;

    /// <summary>Gets or sets the near-tie width of MostAvailable (0 or more).</summary>
    /// <example><code>settings.Epsilon = 0.05;</code></example>
    public double Epsilon { get; set; } = 0.01;

    /// <summary>Gets or sets the strategy ConsistentHash uses for a pick without a hash key (any keyless strategy).</summary>
    /// <example><code>settings.Fallback = "LeastLoad";</code></example>
    public string? Fallback { get; set; } = "RoundRobin";

    /// <summary>Checks the settings and returns one message per problem, each naming its key under <paramref name="prefix"/>.</summary>
    /// <param name="prefix">The configuration path of these settings, for example <c>"Loadwise:catalog:Strategy"</c>.</param>
    /// <returns>The problems; empty when the settings are usable.</returns>
    /// <example>
    /// <code>
    /// foreach (string problem in settings.Validate("Strategy")) Console.Error.WriteLine(problem);
    /// </code>
    /// </example>
    public IReadOnlyList<string> Validate(string prefix = "Strategy")
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var problems = new List<string>();
        if (!StrategyRegistry.IsKnown(Name))
        {
            problems.Add($"{prefix}:Name: got '{Name ?? "(missing)"}', expected one of {string.Join(", ", StrategyRegistry.Names)}.");
        }
        else if (StrategyRegistry.RequiresKey(Name!) && !StrategyRegistry.IsKeyless(Fallback))
        {
            problems.Add($"{prefix}:Fallback: got '{Fallback ?? "(missing)"}', expected one of {string.Join(", ", StrategyRegistry.KeylessNames)}.");
        }

        if (VirtualNodes is < 1 or > 65_536)
        {
            problems.Add($"{prefix}:VirtualNodes: got {VirtualNodes}, expected 1 to 65536 (160 is the default).");
        }

        if (!(Epsilon >= 0) || double.IsInfinity(Epsilon))
        {
            problems.Add($"{prefix}:Epsilon: got {Epsilon}, expected a finite number of 0 or more (0.01 is the default).");
        }

        return problems;
    }
}
