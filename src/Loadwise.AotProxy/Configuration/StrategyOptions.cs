namespace Loadwise.AotProxy.Configuration;

/// <summary>The strategy and its options.</summary>
internal sealed class StrategyOptions
{
    /// <summary>Gets or sets the strategy name (one of <see cref="StrategyNames.All"/>).</summary>
    public string? Name { get; set; } = "RoundRobin";

    /// <summary>Gets or sets the random strategies' starting value for their generators (unset = drawn at random).</summary>
    public ulong? Seed { get; set; }

    /// <summary>Gets or sets the virtual nodes per backend on the consistent-hash ring.</summary>
    public int VirtualNodes { get; set; } = 160;

    /// <summary>Gets or sets the near-tie width of MostAvailable.</summary>
    public double Epsilon { get; set; } = 0.01;

    /// <summary>Gets or sets the strategy used when ConsistentHash has no key for a request.</summary>
    public string? Fallback { get; set; } = "RoundRobin";

    /// <summary>Gets where ConsistentHash takes its key from.</summary>
    public HashKeyOptions HashKey { get; } = new();

    /// <summary>
    /// Gets or sets the bound on a backend's in-flight requests under ConsistentHash or Maglev, in percent of the
    /// average (Envoy's <c>hash_balance_factor</c>, HAProxy's <c>hash-balance-factor</c>): 150 lets no backend take more
    /// than 1.5 times the average; 0 leaves the load unbounded.
    /// </summary>
    public int HashBalanceFactor { get; set; }

    /// <summary>Gets or sets PeakEwma's decay time constant: how fast a backend's latency average forgets a slow answer.</summary>
    public int DecayMs { get; set; } = 10_000;

    /// <summary>
    /// Gets or sets the least latency PeakEwma charges a failed attempt (no response head, or a status counted as a
    /// failure), so that a backend that fails fast does not look fast; 0 charges what the attempt took.
    /// </summary>
    public int FailurePenaltyMs { get; set; } = 1_000;
}

/// <summary>The source of the consistent-hashing key.</summary>
internal sealed class HashKeyOptions
{
    /// <summary>Gets or sets the source: ClientIp, Header, Cookie, Path or Query.</summary>
    public string? Source { get; set; } = "ClientIp";

    /// <summary>Gets or sets the header, cookie or query parameter name (for those sources).</summary>
    public string? Name { get; set; }
}

/// <summary>
/// Slow start (Envoy's <c>slow_start_config</c>): a backend that returns to Healthy, or joins on a reload, takes a
/// growing share of its traffic over a window, under every strategy.
/// </summary>
internal sealed class SlowStartOptions
{
    /// <summary>Gets or sets how long a ramp lasts; 0 turns slow start off.</summary>
    public int WindowMs { get; set; }

    /// <summary>Gets or sets the ramp's aggression: 1.0 is linear, larger ramps faster at first.</summary>
    public double Aggression { get; set; } = 1.0;

    /// <summary>Gets or sets the least share, in percent of its normal share, a ramping backend takes.</summary>
    public double MinWeightPercent { get; set; } = 10;
}
