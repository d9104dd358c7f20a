namespace Loadwise;

/// <summary>What kind of result a request to a node had.</summary>
/// <example><code>if (outcome.Kind == OutcomeKind.RateLimited) { /* back off */ }</code></example>
public enum OutcomeKind
{
    /// <summary>The node served the request.</summary>
    Success = 0,

    /// <summary>The node failed the request (error, timeout, refused connection); counts against its health.</summary>
    Failure = 1,

    /// <summary>The node refused the request for quota (for example HTTP 429). Not a health failure.</summary>
    RateLimited = 2,
}

/// <summary>
/// The result of one request to a node, reported to <see cref="HealthTracker{TId}.Report"/>. A rate-limited outcome
/// makes the node unavailable until its retry-after has passed but does not count as a failure: the node is alive,
/// just busy.
/// </summary>
/// <example>
/// <code>
/// tracker.Report(node, response.StatusCode switch
/// {
///     HttpStatusCode.TooManyRequests => Outcome.RateLimited(response.Headers.RetryAfter?.Delta),
///     >= HttpStatusCode.InternalServerError => Outcome.Failure,
///     _ => Outcome.Success,
/// });
/// </code>
/// </example>
public readonly record struct Outcome
{
    private Outcome(OutcomeKind kind, TimeSpan? retryAfter)
    {
        Kind = kind;
        RetryAfter = retryAfter;
    }

    /// <summary>Gets a successful outcome.</summary>
    /// <example><code>tracker.Report(id, Outcome.Success);</code></example>
    public static Outcome Success => new(OutcomeKind.Success, null);

    /// <summary>Gets a failed outcome.</summary>
    /// <example><code>tracker.Report(id, Outcome.Failure);</code></example>
    public static Outcome Failure => new(OutcomeKind.Failure, null);

    /// <summary>Gets the kind of outcome.</summary>
    /// <example><code>bool failed = outcome.Kind == OutcomeKind.Failure;</code></example>
    public OutcomeKind Kind { get; }

    /// <summary>
    /// Gets how long a rate-limited node should be left alone, or null when the node did not say (the tracker then uses
    /// <see cref="HealthTrackerOptions.DefaultRetryAfter"/>). Always null for other kinds.
    /// </summary>
    /// <example><code>TimeSpan wait = outcome.RetryAfter ?? TimeSpan.FromSeconds(1);</code></example>
    public TimeSpan? RetryAfter { get; }

    /// <summary>Makes a rate-limited outcome.</summary>
    /// <param name="retryAfter">How long to leave the node alone (for example from a <c>Retry-After</c> header); null for the tracker's default.</param>
    /// <returns>The outcome.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="retryAfter"/> is negative.</exception>
    /// <example><code>tracker.Report(id, Outcome.RateLimited(TimeSpan.FromSeconds(20)));</code></example>
    public static Outcome RateLimited(TimeSpan? retryAfter = null)
    {
        if (retryAfter < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(retryAfter), retryAfter, "Retry-after must be zero or positive (or null for the tracker's default).");
        }

        return new Outcome(OutcomeKind.RateLimited, retryAfter);
    }
}
