namespace Loadwise;

/// <summary>What one use of a quota dimension is measured in.</summary>
/// <example><code>var images = new QuotaLimit("images", 50, TimeSpan.FromHours(1), QuotaUnit.Manual);</code></example>
public enum QuotaUnit
{
    /// <summary>Each charge (each pick) uses 1, whatever its cost: requests per minute.</summary>
    Requests = 0,

    /// <summary>Each charge uses its cost (<see cref="SelectionContext.EstimatedCost"/>, corrected later with the actual cost): tokens per minute.</summary>
    Cost = 1,

    /// <summary>Charges ignore it; only <see cref="QuotaTracker{TId}.Record"/> uses it. A manual dimension that is used up excludes the node.</summary>
    Manual = 2,
}

/// <summary>
/// One quota dimension: a named limit over a sliding window, measured in a <see cref="QuotaUnit"/>.
/// </summary>
/// <example>
/// <code>
/// QuotaLimit[] openAi =
/// [
///     QuotaLimit.RequestsPerMinute(500),
///     QuotaLimit.TokensPerMinute(200_000),
///     new QuotaLimit("requests-per-day", 10_000, TimeSpan.FromDays(1), QuotaUnit.Requests),
/// ];
/// </code>
/// </example>
public sealed record QuotaLimit
{
    /// <summary>The name of the <see cref="RequestsPerMinute"/> dimension.</summary>
    public const string RequestsName = "requests";

    /// <summary>The name of the <see cref="TokensPerMinute"/> dimension.</summary>
    public const string TokensName = "tokens";

    /// <summary>Creates a limit.</summary>
    /// <param name="name">The dimension's name, unique per node (for example <c>"tokens"</c>).</param>
    /// <param name="limit">The most that may be used per window: finite and more than zero.</param>
    /// <param name="window">The window length: at least 1 ms.</param>
    /// <param name="unit">What a use is measured in.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Another argument is out of range; the message names the range.</exception>
    /// <example><code>var limit = new QuotaLimit("tokens-per-day", 5_000_000, TimeSpan.FromDays(1), QuotaUnit.Cost);</code></example>
    public QuotaLimit(string name, double limit, TimeSpan window, QuotaUnit unit)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!(limit > 0) || double.IsInfinity(limit))
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, "A quota limit must be a finite number more than zero.");
        }

        if (window < TimeSpan.FromMilliseconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, "A quota window must be at least 1 ms (for example TimeSpan.FromMinutes(1)).");
        }

        if (!Enum.IsDefined(unit))
        {
            throw new ArgumentOutOfRangeException(nameof(unit), unit, "Use QuotaUnit.Requests, QuotaUnit.Cost or QuotaUnit.Manual.");
        }

        Name = name;
        Limit = limit;
        Window = window;
        Unit = unit;
    }

    /// <summary>Gets the dimension's name.</summary>
    /// <example><code>string name = limit.Name;</code></example>
    public string Name { get; }

    /// <summary>Gets the most that may be used per window.</summary>
    /// <example><code>double max = limit.Limit;</code></example>
    public double Limit { get; }

    /// <summary>Gets the window length.</summary>
    /// <example><code>TimeSpan window = limit.Window;</code></example>
    public TimeSpan Window { get; }

    /// <summary>Gets what a use is measured in.</summary>
    /// <example><code>QuotaUnit unit = limit.Unit;</code></example>
    public QuotaUnit Unit { get; }

    /// <summary>Makes a <c>"requests"</c> limit per one-minute window.</summary>
    /// <param name="limit">Requests per minute.</param>
    /// <returns>The limit.</returns>
    /// <example><code>var rpm = QuotaLimit.RequestsPerMinute(500);</code></example>
    public static QuotaLimit RequestsPerMinute(double limit) => new(RequestsName, limit, TimeSpan.FromMinutes(1), QuotaUnit.Requests);

    /// <summary>Makes a <c>"tokens"</c> limit per one-minute window, charged with each pick's estimated cost.</summary>
    /// <param name="limit">Tokens per minute.</param>
    /// <returns>The limit.</returns>
    /// <example><code>var tpm = QuotaLimit.TokensPerMinute(200_000);</code></example>
    public static QuotaLimit TokensPerMinute(double limit) => new(TokensName, limit, TimeSpan.FromMinutes(1), QuotaUnit.Cost);
}
