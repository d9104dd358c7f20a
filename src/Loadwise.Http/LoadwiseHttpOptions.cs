namespace Loadwise.Http;

/// <summary>
/// How a load-balanced <see cref="HttpClient"/> picks and retries. Binds from configuration (for example the
/// <c>Loadwise:Http:catalog</c> section); <see cref="Validate"/> names the key of each problem.
/// </summary>
/// <example>
/// <code>
/// services.AddHttpClient("catalog", c =&gt; c.BaseAddress = new("http://catalog"))
///         .AddLoadwise(o =&gt;
///         {
///             o.Balancer.Strategy.Name = "PowerOfTwoChoices";
///             o.Endpoints = ["http://10.0.0.1:8080", "http://10.0.0.2:8080"];
///         });
/// </code>
/// </example>
public sealed class LoadwiseHttpOptions
{
    /// <summary>Gets or sets the strategy and health settings.</summary>
    /// <example><code>options.Balancer.Strategy.Name = "LeastLoad";</code></example>
    public LoadBalancerOptions Balancer { get; set; } = new();

    /// <summary>
    /// Gets or sets fixed endpoints (absolute http(s) URIs). When empty, endpoints come from a registered
    /// <see cref="IEndpointSource"/> or, failing that, from Microsoft.Extensions.ServiceDiscovery.
    /// </summary>
    /// <example><code>options.Endpoints = ["http://localhost:5001", "http://localhost:5002"];</code></example>
    public IList<string> Endpoints { get; set; } = [];

    /// <summary>
    /// Gets or sets the service name asked of service discovery (for example <c>"https+http://catalog"</c>); unset for
    /// the scheme and host of the request's URI.
    /// </summary>
    /// <example><code>options.ServiceName = "http://catalog";</code></example>
    public string? ServiceName { get; set; }

    /// <summary>
    /// Gets or sets the most endpoints one request may be sent to (1 = no retry). Retries go to endpoints not yet tried,
    /// for idempotent requests that got no response, and for any request answered 429 (or 503 with Retry-After).
    /// </summary>
    /// <example><code>options.MaxAttempts = 3;</code></example>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Gets or sets the retries allowed per request sent, as a ratio (0.2 = one retry per five requests, plus <see cref="MinRetriesPerSecond"/>).</summary>
    /// <example><code>options.RetryBudgetRatio = 0.1;</code></example>
    public double RetryBudgetRatio { get; set; } = 0.2;

    /// <summary>Gets or sets the retries always allowed per second, however few requests were sent.</summary>
    /// <example><code>options.MinRetriesPerSecond = 10;</code></example>
    public int MinRetriesPerSecond { get; set; } = 10;

    /// <summary>Gets or sets whether a 429 (or a 503 with Retry-After) is retried on another endpoint (the endpoint did not process it).</summary>
    /// <example><code>options.RetryRateLimited = false;</code></example>
    public bool RetryRateLimited { get; set; } = true;

    /// <summary>
    /// Gets or sets whether a request counts as in flight on its endpoint until its response body has been read to the
    /// end or the response disposed (true, the default), or only until the response headers arrive (false: saves a
    /// wrapper per response, but a streamed answer stops counting as load as soon as it starts). A body that breaks
    /// off is reported as a failure.
    /// </summary>
    /// <example><code>options.InFlightUntilBodyEnd = false;</code></example>
    public bool InFlightUntilBodyEnd { get; set; } = true;

    /// <summary>Gets or sets the request header that carries the consistent-hashing key (used when the request has no <see cref="LoadwiseRequest.HashKey"/> option).</summary>
    /// <example><code>options.HashKeyHeader = "X-Room-Id";</code></example>
    public string? HashKeyHeader { get; set; }

    /// <summary>
    /// Gets or sets the path of the active health probe (for example <c>"/healthz"</c>); unset for no active probing.
    /// A hosted service probes Unhealthy endpoints once per probe interval of the health settings and reports the
    /// answer, so that an endpoint that came back gets traffic again. Needs a host (or a started hosted service).
    /// </summary>
    /// <example><code>options.ProbePath = "/healthz";</code></example>
    public string? ProbePath { get; set; }

    /// <summary>Checks the options; each message names its key under <paramref name="prefix"/>.</summary>
    /// <param name="prefix">The configuration path, for example <c>"Loadwise:Http:catalog"</c>.</param>
    /// <returns>The problems; empty when usable.</returns>
    /// <example><code>IReadOnlyList&lt;string&gt; problems = options.Validate("Loadwise:Http:catalog");</code></example>
    public IReadOnlyList<string> Validate(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var problems = new List<string>();
        if (Balancer is null)
        {
            problems.Add($"{prefix}:Balancer: missing; remove the key for the defaults.");
        }
        else
        {
            problems.AddRange(Balancer.Validate($"{prefix}:Balancer"));
        }

        for (int i = 0; i < (Endpoints?.Count ?? 0); i++)
        {
            string text = Endpoints![i];
            if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Query.Length > 0 || uri.Fragment.Length > 0)
            {
                problems.Add($"{prefix}:Endpoints:{i}: got '{text}', expected an absolute http:// or https:// URI without query or fragment.");
            }
        }

        if (MaxAttempts is < 1 or > 10)
        {
            problems.Add($"{prefix}:MaxAttempts: got {MaxAttempts}, expected 1 to 10 (3 is the default).");
        }

        if (!(RetryBudgetRatio >= 0 && RetryBudgetRatio <= 10))
        {
            problems.Add($"{prefix}:RetryBudgetRatio: got {RetryBudgetRatio}, expected 0 to 10 (0.2 is the default).");
        }

        if (MinRetriesPerSecond < 0)
        {
            problems.Add($"{prefix}:MinRetriesPerSecond: got {MinRetriesPerSecond}, expected 0 or more (10 is the default).");
        }

        if (ProbePath is { Length: > 0 } path && path[0] != '/')
        {
            problems.Add($"{prefix}:ProbePath: got '{path}', expected a path starting with '/', for example /healthz.");
        }

        return problems;
    }
}
