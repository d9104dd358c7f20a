using System.Diagnostics.Metrics;

namespace Loadwise;

/// <summary>
/// Builds a <see cref="LoadBalancer{TNode}"/>: pick a strategy (by method or by name), add filters, then
/// <see cref="Build"/>. Every method returns the builder; a builder can build several independent balancers.
/// </summary>
/// <typeparam name="TNode">The node type.</typeparam>
/// <example>
/// <code>
/// var balancer = LoadBalancer.For&lt;Provider&gt;()
///     .Named("llm")
///     .UseMostAvailable()
///     .WithHealth()
///     .WithQuotas(quotas)
///     .Where(static p =&gt; !p.Draining)
///     .Build(providers);
/// </code>
/// </example>
public sealed class LoadBalancerBuilder<TNode>
{
    private readonly List<Func<TNode, bool>> _predicates = [];
    private string _name = "default";
    private StrategySettings _strategy = new();
    private bool _health;
    private HealthTracker<string>? _healthTracker;
    private HealthSettings _healthSettings = new();
    private HealthRequirement _requirement = HealthRequirement.Available;
    private QuotaTracker<string>? _quotas;
    private Func<TNode, string>? _idOf;
    private TimeProvider _time = TimeProvider.System;
    private IMeterFactory? _meterFactory;
    private IMetricsCollector _metricsCollector = NoOpMetricsCollector.Instance;

    internal LoadBalancerBuilder()
    {
    }

    /// <summary>Names the balancer (its <c>balancer</c> metric tag and the name in error messages).</summary>
    /// <param name="name">A non-empty name.</param>
    /// <returns>This builder.</returns>
    /// <example><code>builder.Named("catalog");</code></example>
    public LoadBalancerBuilder<TNode> Named(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _name = name;
        return this;
    }

    /// <summary>Chooses the strategy by name, for example from configuration.</summary>
    /// <param name="name">One of <see cref="StrategyRegistry.Names"/>, case-insensitive.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the known ones.</exception>
    /// <example><code>builder.UseStrategy(configuration["Strategy"] ?? "RoundRobin");</code></example>
    public LoadBalancerBuilder<TNode> UseStrategy(string name) => UseStrategy(new StrategySettings { Name = name });

    /// <summary>Chooses the strategy and its settings.</summary>
    /// <param name="settings">The settings.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException">The settings are invalid; the message names each key.</exception>
    /// <example><code>builder.UseStrategy(new StrategySettings { Name = "ConsistentHash", Fallback = "LeastLoad" });</code></example>
    public LoadBalancerBuilder<TNode> UseStrategy(StrategySettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        IReadOnlyList<string> problems = settings.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems), nameof(settings));
        }

        _strategy = new StrategySettings
        {
            Name = settings.Name,
            Seed = settings.Seed,
            VirtualNodes = settings.VirtualNodes,
            Epsilon = settings.Epsilon,
            Fallback = settings.Fallback,
        };
        return this;
    }

    /// <summary>Takes a strategy and health settings bound from configuration.</summary>
    /// <param name="options">The options.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException">The options are invalid; the message names each key.</exception>
    /// <example><code>builder.Configure(configuration.GetSection("Loadwise:catalog").Get&lt;LoadBalancerOptions&gt;()!);</code></example>
    public LoadBalancerBuilder<TNode> Configure(LoadBalancerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> problems = options.Validate("options");
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems), nameof(options));
        }

        UseStrategy(options.Strategy);
        _health = options.Health.Enabled;
        _healthSettings = options.Health;
        _requirement = options.Health.HealthyOnly ? HealthRequirement.HealthyOnly : HealthRequirement.Available;
        return this;
    }

    /// <summary>Uses <see cref="RoundRobin{TNode}"/>.</summary>
    /// <returns>This builder.</returns>
    /// <example><code>builder.UseRoundRobin();</code></example>
    public LoadBalancerBuilder<TNode> UseRoundRobin() => UseStrategy("RoundRobin");

    /// <summary>Uses <see cref="Random{TNode}"/>.</summary>
    /// <param name="seed">A seed for reproducible single-threaded sequences; null for a random one.</param>
    /// <returns>This builder.</returns>
    /// <example><code>builder.UseRandom(seed: 7);</code></example>
    public LoadBalancerBuilder<TNode> UseRandom(ulong? seed = null) => UseStrategy(new StrategySettings { Name = "Random", Seed = seed });

    /// <summary>Uses <see cref="WeightedRandom{TNode, TAccessor}"/> (weights from <see cref="IWeighted"/>, else 1).</summary>
    /// <param name="seed">A seed; null for a random one.</param>
    /// <returns>This builder.</returns>
    /// <example><code>builder.UseWeightedRandom();</code></example>
    public LoadBalancerBuilder<TNode> UseWeightedRandom(ulong? seed = null) => UseStrategy(new StrategySettings { Name = "WeightedRandom", Seed = seed });

    /// <summary>Uses <see cref="WeightedRoundRobin{TNode, TId, TAccessor}"/> (smooth, weights from <see cref="IWeighted"/>).</summary>
    /// <returns>This builder.</returns>
    /// <example><code>builder.UseWeightedRoundRobin();</code></example>
    public LoadBalancerBuilder<TNode> UseWeightedRoundRobin() => UseStrategy("WeightedRoundRobin");

    /// <summary>Uses <see cref="LeastLoad{TNode, TAccessor}"/> over the node's load, or its in-flight count.</summary>
    /// <returns>This builder.</returns>
    /// <example><code>builder.UseLeastLoad();</code></example>
    public LoadBalancerBuilder<TNode> UseLeastLoad() => UseStrategy("LeastLoad");

    /// <summary>Uses <see cref="PowerOfTwoChoices{TNode, TAccessor}"/> over the node's load, or its in-flight count.</summary>
    /// <param name="seed">A seed; null for a random one.</param>
    /// <returns>This builder.</returns>
    /// <example><code>builder.UsePowerOfTwoChoices();</code></example>
    public LoadBalancerBuilder<TNode> UsePowerOfTwoChoices(ulong? seed = null) => UseStrategy(new StrategySettings { Name = "PowerOfTwoChoices", Seed = seed });

    /// <summary>Uses <see cref="ConsistentHash{TNode, TId, TAccessor}"/> keyed by the context's hash key, with a fallback for keyless picks.</summary>
    /// <param name="virtualNodes">Ring points per node (1 to 65,536).</param>
    /// <param name="fallback">The keyless strategy used when a pick has no hash key.</param>
    /// <returns>This builder.</returns>
    /// <example><code>builder.UseConsistentHash(fallback: "LeastLoad");</code></example>
    public LoadBalancerBuilder<TNode> UseConsistentHash(int virtualNodes = 160, string fallback = "RoundRobin") =>
        UseStrategy(new StrategySettings { Name = StrategyRegistry.ConsistentHashName, VirtualNodes = virtualNodes, Fallback = fallback });

    /// <summary>Uses <see cref="MostAvailable{TNode, TAccessor}"/> over the quota's remaining ratio (or the node's own).</summary>
    /// <param name="epsilon">Ratios within this distance of the best count as tied.</param>
    /// <returns>This builder.</returns>
    /// <example><code>builder.UseMostAvailable();</code></example>
    public LoadBalancerBuilder<TNode> UseMostAvailable(double epsilon = 0.01) => UseStrategy(new StrategySettings { Name = "MostAvailable", Epsilon = epsilon });

    /// <summary>Says how to read a node's identity when the type does not implement <see cref="INode{TId}"/> of string.</summary>
    /// <param name="idOf">Returns the node's identity (distinct per node).</param>
    /// <returns>This builder.</returns>
    /// <example><code>LoadBalancer.For&lt;Uri&gt;().IdentifiedBy(static u =&gt; u.Authority);</code></example>
    public LoadBalancerBuilder<TNode> IdentifiedBy(Func<TNode, string> idOf)
    {
        ArgumentNullException.ThrowIfNull(idOf);
        _idOf = idOf;
        return this;
    }

    /// <summary>
    /// Tracks health from the outcomes leases report and skips Unhealthy and rate-limited nodes (with
    /// <see cref="HealthRequirement.HealthyOnly"/>, everything but Healthy).
    /// </summary>
    /// <param name="tracker">A tracker to share (for example with an active prober); null for the balancer's own.</param>
    /// <param name="requirement">Which nodes pass.</param>
    /// <returns>This builder.</returns>
    /// <example><code>builder.WithHealth(requirement: HealthRequirement.HealthyOnly);</code></example>
    public LoadBalancerBuilder<TNode> WithHealth(HealthTracker<string>? tracker = null, HealthRequirement requirement = HealthRequirement.Available)
    {
        if (!Enum.IsDefined(requirement))
        {
            throw new ArgumentOutOfRangeException(nameof(requirement), requirement, "Use HealthRequirement.Available or HealthRequirement.HealthyOnly.");
        }

        _health = true;
        _healthTracker = tracker;
        _requirement = requirement;
        return this;
    }

    /// <summary>Charges each pick's <see cref="SelectionContext.EstimatedCost"/> to the node's quotas and skips nodes it would push over a limit.</summary>
    /// <param name="quotas">The quota tracker (keyed by node identity).</param>
    /// <returns>This builder.</returns>
    /// <example><code>builder.WithQuotas(new QuotaTracker&lt;string&gt;([QuotaLimit.RequestsPerMinute(60)]));</code></example>
    public LoadBalancerBuilder<TNode> WithQuotas(QuotaTracker<string> quotas)
    {
        ArgumentNullException.ThrowIfNull(quotas);
        _quotas = quotas;
        return this;
    }

    /// <summary>Skips nodes for which <paramref name="predicate"/> returns false; several predicates must all pass.</summary>
    /// <param name="predicate">A thread-safe predicate; pass a <c>static</c> lambda to avoid a capture.</param>
    /// <returns>This builder.</returns>
    /// <example><code>builder.Where(static b =&gt; b.Region == "eu");</code></example>
    public LoadBalancerBuilder<TNode> Where(Func<TNode, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        _predicates.Add(predicate);
        return this;
    }

    /// <summary>Sets the clock of the balancer's own health tracker.</summary>
    /// <param name="timeProvider">The clock; tests pass a <c>FakeTimeProvider</c>.</param>
    /// <returns>This builder.</returns>
    /// <example><code>builder.WithTimeProvider(fakeTime);</code></example>
    public LoadBalancerBuilder<TNode> WithTimeProvider(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _time = timeProvider;
        return this;
    }

    /// <summary>Creates the balancer's meter through a DI meter factory instead of the shared <c>"Loadwise"</c> meter.</summary>
    /// <param name="meterFactory">The factory; null for the shared meter.</param>
    /// <returns>This builder.</returns>
    /// <example><code>builder.WithMeterFactory(services.GetService&lt;IMeterFactory&gt;());</code></example>
    public LoadBalancerBuilder<TNode> WithMeterFactory(IMeterFactory? meterFactory)
    {
        _meterFactory = meterFactory;
        return this;
    }

    /// <summary>Sets the hook the balancer's own health tracker tells about status changes.</summary>
    /// <param name="metrics">The hook, for example a <see cref="DiagnosticsMetricsCollector"/>.</param>
    /// <returns>This builder.</returns>
    /// <example><code>builder.WithHealthMetrics(new DiagnosticsMetricsCollector(meterFactory));</code></example>
    public LoadBalancerBuilder<TNode> WithHealthMetrics(IMetricsCollector metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        _metricsCollector = metrics;
        return this;
    }

    /// <summary>Builds a balancer with the given nodes as its first snapshot.</summary>
    /// <param name="nodes">The nodes; empty for none yet (call <see cref="LoadBalancer{TNode}.Update"/> later).</param>
    /// <returns>A new, independent balancer.</returns>
    /// <exception cref="ArgumentException">A node is null or two share an identity.</exception>
    /// <example><code>LoadBalancer&lt;Backend&gt; balancer = builder.Build(backends);</code></example>
    public LoadBalancer<TNode> Build(IEnumerable<TNode>? nodes = null)
    {
        HealthTracker<string>? tracker = _healthTracker;
        bool owns = false;
        if (_health && tracker is null)
        {
            tracker = new HealthTracker<string>(new HealthTrackerOptions { Policy = _healthSettings.CreatePolicy(), TimeProvider = _time, Metrics = _metricsCollector });
            owns = true;
        }

        string strategyName = StrategyRegistry.Canonical(_strategy.Name!);
        var balancer = new LoadBalancer<TNode>(
            _name, _strategy, _health ? tracker : null, owns, _requirement, _quotas, [.. _predicates], _idOf ?? NodeShape<TNode>.DefaultId,
            new BalancerMetrics(_name, strategyName, _meterFactory));
        if (nodes is not null)
        {
            balancer.Update(nodes);
        }

        return balancer;
    }
}
