namespace Loadwise;

/// <summary>
/// A balancer's settings as configuration spells them: the strategy and health tracking. Bind it from a section
/// (the Loadwise.Hosting package does so with the configuration-binding source generator) and check it with
/// <see cref="Validate"/>, whose messages name the key.
/// </summary>
/// <example>
/// <code>
/// // appsettings.json: { "Loadwise": { "catalog": { "Strategy": { "Name": "PowerOfTwoChoices" }, "Health": { "FailureThreshold": 5 } } } }
/// var balancer = LoadBalancer.For&lt;Backend&gt;().Configure(options).Build(backends);
/// </code>
/// </example>
public sealed class LoadBalancerOptions
{
    /// <summary>Gets or sets the strategy and its settings.</summary>
    /// <example><code>options.Strategy = new StrategySettings { Name = "LeastLoad" };</code></example>
    public StrategySettings Strategy { get; set; } = new();

    /// <summary>Gets or sets how outcomes decide a node's health.</summary>
    /// <example><code>options.Health.FailureThreshold = 5;</code></example>
    public HealthSettings Health { get; set; } = new();

    /// <summary>Checks the options and returns one message per problem, each naming its key under <paramref name="prefix"/>.</summary>
    /// <param name="prefix">The configuration path of these options, for example <c>"Loadwise:catalog"</c>.</param>
    /// <returns>The problems; empty when the options are usable.</returns>
    /// <example><code>IReadOnlyList&lt;string&gt; problems = options.Validate("Loadwise:catalog");</code></example>
    public IReadOnlyList<string> Validate(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var problems = new List<string>();
        if (Strategy is null)
        {
            problems.Add($"{prefix}:Strategy: missing; set at least Strategy:Name.");
        }
        else
        {
            problems.AddRange(Strategy.Validate($"{prefix}:Strategy"));
        }

        if (Health is null)
        {
            problems.Add($"{prefix}:Health: missing; remove the key for the defaults.");
        }
        else
        {
            problems.AddRange(Health.Validate($"{prefix}:Health"));
        }

        return problems;
    }
}

/// <summary>Health tracking settings of a balancer: a consecutive-failure policy, as configuration spells it.</summary>
/// <example><code>var health = new HealthSettings { FailureThreshold = 5, ProbeIntervalSeconds = 30 };</code></example>
public sealed class HealthSettings
{
    /// <summary>Gets or sets whether outcomes are tracked and unhealthy or rate-limited nodes skipped.</summary>
    /// <example><code>health.Enabled = false; // pick among every node whatever happens</code></example>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the consecutive failures that make a node Unhealthy (1 or more).</summary>
    /// <example><code>health.FailureThreshold = 5;</code></example>
    public int FailureThreshold { get; set; } = ConsecutiveFailurePolicy.DefaultFailureThreshold;

    /// <summary>Gets or sets the successes a Recovering node needs to be Healthy again (1 or more).</summary>
    /// <example><code>health.RecoverySuccesses = 2;</code></example>
    public int RecoverySuccesses { get; set; } = ConsecutiveFailurePolicy.DefaultRecoverySuccesses;

    /// <summary>Gets or sets how long an Unhealthy node waits between probes, in seconds (more than 0).</summary>
    /// <example><code>health.ProbeIntervalSeconds = 30;</code></example>
    public double ProbeIntervalSeconds { get; set; } = 10;

    /// <summary>Gets or sets whether only Healthy nodes are picked (otherwise Degraded and Recovering ones too).</summary>
    /// <example><code>health.HealthyOnly = true;</code></example>
    public bool HealthyOnly { get; set; }

    /// <summary>Checks the settings; each message names its key under <paramref name="prefix"/>.</summary>
    /// <param name="prefix">The configuration path, for example <c>"Loadwise:catalog:Health"</c>.</param>
    /// <returns>The problems; empty when usable.</returns>
    /// <example><code>var problems = health.Validate("Health");</code></example>
    public IReadOnlyList<string> Validate(string prefix)
    {
        var problems = new List<string>();
        if (FailureThreshold < 1)
        {
            problems.Add($"{prefix}:FailureThreshold: got {FailureThreshold}, expected 1 or more ({ConsecutiveFailurePolicy.DefaultFailureThreshold} is the default).");
        }

        if (RecoverySuccesses < 1)
        {
            problems.Add($"{prefix}:RecoverySuccesses: got {RecoverySuccesses}, expected 1 or more ({ConsecutiveFailurePolicy.DefaultRecoverySuccesses} is the default).");
        }

        if (!(ProbeIntervalSeconds > 0) || double.IsInfinity(ProbeIntervalSeconds))
        {
            problems.Add($"{prefix}:ProbeIntervalSeconds: got {ProbeIntervalSeconds}, expected a finite number more than 0 (10 is the default).");
        }

        return problems;
    }

    internal ConsecutiveFailurePolicy CreatePolicy() => new(FailureThreshold, RecoverySuccesses, TimeSpan.FromSeconds(ProbeIntervalSeconds));
}
