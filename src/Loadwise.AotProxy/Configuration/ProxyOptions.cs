namespace Loadwise.AotProxy.Configuration;

// The configuration shape, bound by the configuration-binding source generator (AOT-safe, no reflection). Every key,
// its default and its meaning is documented in docs/proxy/configuration.md; ConfigurationReferenceTests keeps the two in step. Names and choices are plain strings
// so that the validator can say what is allowed instead of the binder failing on the first bad enum value.

/// <summary>The whole proxy configuration (the root of the JSON file).</summary>
internal sealed class ProxyOptions
{
    /// <summary>Gets the URLs the proxy listens on.</summary>
    public List<string> Listen { get; } = [];

    /// <summary>Gets the backends requests are forwarded to.</summary>
    public List<BackendOptions> Backends { get; } = [];

    /// <summary>Gets the backend-selection strategy.</summary>
    public StrategyOptions Strategy { get; } = new();

    /// <summary>Gets the slow start of backends that return to service or join on reload.</summary>
    public SlowStartOptions SlowStart { get; } = new();

    /// <summary>Gets the connect, response-header and idle timeouts.</summary>
    public TimeoutOptions Timeouts { get; } = new();

    /// <summary>Gets the request limits Kestrel enforces.</summary>
    public LimitOptions Limits { get; } = new();

    /// <summary>Gets the forwarding rules: X-Forwarded-* trust and the Host header.</summary>
    public ForwardingOptions Forwarding { get; } = new();

    /// <summary>Gets where the Prometheus scrape is served.</summary>
    public MetricsOptions Metrics { get; } = new();

    /// <summary>Gets the graceful-drain settings.</summary>
    public DrainOptions Drain { get; } = new();

    /// <summary>Gets the logging settings.</summary>
    public LogOptions Log { get; } = new();

    /// <summary>Gets the active and passive health settings.</summary>
    public HealthCheckOptions HealthChecks { get; } = new();

    /// <summary>Gets the per-client rate-limit settings.</summary>
    public RateLimitingOptions RateLimiting { get; } = new();

    /// <summary>Gets the retry settings.</summary>
    public RetryOptions Retries { get; } = new();

    /// <summary>Gets the runtime tuning of the proxy process.</summary>
    public PerformanceOptions Performance { get; } = new();

    /// <summary>Gets the admin listener, its API and status page, and their token.</summary>
    public AdminOptions Admin { get; } = new();

    /// <summary>Gets the configuration-reload settings.</summary>
    public ReloadOptions Reload { get; } = new();

    /// <summary>Gets the access-log settings.</summary>
    public AccessLogOptions AccessLog { get; } = new();

    /// <summary>Gets the telemetry export settings.</summary>
    public TelemetryOptions Telemetry { get; } = new();

    /// <summary>Gets state shared with other proxies through Redis (off unless State:Redis is set).</summary>
    public State.StateOptions State { get; } = new();

    /// <summary>Gets the certificates of the https:// listeners.</summary>
    public TlsOptions Tls { get; } = new();

    /// <summary>Gets how https:// backends' certificates are checked.</summary>
    public BackendTlsOptions BackendTls { get; } = new();

    /// <summary>Gets HTTP/2 to clients: cleartext listeners and Kestrel's limits.</summary>
    public Http2Options Http2 { get; } = new();

    /// <summary>Gets the WebSocket (Upgrade) settings.</summary>
    public WebSocketOptions WebSocket { get; } = new();
}

/// <summary>Runtime tuning of the proxy process.</summary>
internal sealed class PerformanceOptions
{
    /// <summary>
    /// Gets or sets whether socket completions run on the runtime's socket event threads (then one per core) instead
    /// of hopping to the thread pool. The proxy never blocks in a continuation, so the hop is pure cost. An explicit
    /// DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS in the environment wins over this setting.
    /// </summary>
    public bool InlineSocketCompletions { get; set; } = true;

    /// <summary>
    /// Gets or sets whether Kestrel runs request processing on the thread that completed the socket read (its
    /// UnsafePreferInlineScheduling) instead of queueing it to the thread pool. Safe here because the router never
    /// blocks.
    /// </summary>
    public bool InlineScheduling { get; set; } = true;

    /// <summary>
    /// Gets or sets whether requests to http:// backends, with or without a body, go over the proxy's own pooled HTTP/1.1
    /// connections, with the request head written straight from the parsed request and the response parsed in place,
    /// instead of through HttpClient (HttpRequestMessage, HttpResponseMessage and a Uri per request). https:// backends
    /// always use HttpClient.
    /// </summary>
    public bool DirectHttp1 { get; set; } = true;

    /// <summary>
    /// Gets or sets whether plain-HTTP listeners serve common requests (GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS,
    /// HTTP/1.1, one Host, visible ASCII only, no body or one framed by a single Content-Length) with the proxy's own
    /// HTTP/1.1 codec in front of Kestrel's HTTP layer: the request head is parsed in the connection's buffer and
    /// forwarded as it is, and the response head is written back from the backend's bytes. The first request it is not
    /// sure of (chunked bodies, Expect, Upgrade and the rest) hands the connection to Kestrel for good, so Kestrel's
    /// limits and errors apply to it. Needs <see cref="DirectHttp1"/> and http:// backends only; otherwise it stays off.
    /// </summary>
    public bool FastPath { get; set; } = true;

    /// <summary>
    /// Gets or sets whether Kestrel waits for data with a zero-byte read before it takes a read buffer. On (Kestrel's
    /// default), an idle connection holds no buffer; off saves one system call per request, and each idle keep-alive
    /// connection then holds a 4 KiB buffer (10,000 idle connections: about 40 MiB).
    /// </summary>
    public bool WaitForDataBeforeAllocatingBuffer { get; set; }

    /// <summary>
    /// Gets or sets whether the listeners run on the proxy's own event loop (Linux; elsewhere Kestrel's socket
    /// transport is used regardless): one epoll thread per core, each with its own SO_REUSEPORT listening socket, and
    /// the fast path reading and sending on the socket straight from that thread, with no pipe, no runtime socket
    /// engine and no thread hop per request. Connections the fast path hands to Kestrel get pipes pumped by the same
    /// loop. On by default (docs/proxy/event-loop.md; the measurements are in bench/results/).
    /// </summary>
    public bool EventLoop { get; set; } = true;

    /// <summary>Gets or sets the event-loop threads when <see cref="EventLoop"/> is on; 0 = one per core.</summary>
    public int EventLoopThreads { get; set; }
}

/// <summary>One backend.</summary>
internal sealed class BackendOptions
{
    /// <summary>Gets or sets the backend's id: its name in metrics and logs, and its identity on the hash ring.</summary>
    public string? Id { get; set; }

    /// <summary>Gets or sets the backend's base URL (http or https, optionally with a path prefix).</summary>
    public string? Url { get; set; }

    /// <summary>Gets or sets the weight for weighted strategies (0 = never picked by them).</summary>
    public int Weight { get; set; } = 1;

    /// <summary>Gets or sets the in-flight requests the backend is sized for (0 = unknown); MostAvailable uses it.</summary>
    public int Capacity { get; set; }

    /// <summary>Gets or sets whether the backend is reached over HTTP/2 (h2c for http://, ALPN h2 for https://), streams multiplexed over a few connections.</summary>
    public bool Http2 { get; set; }

    /// <summary>Gets or sets the priority level: 0 is primary; a higher level takes traffic as the levels below it lose backends.</summary>
    public int Priority { get; set; }

    /// <summary>Gets or sets whether the backend is a backup (HAProxy's <c>backup</c>): it takes traffic only while no primary is available.</summary>
    public bool Backup { get; set; }
}

/// <summary>Timeouts, in milliseconds.</summary>
internal sealed class TimeoutOptions
{
    /// <summary>Gets or sets the time allowed to open a connection to a backend (exceeded: 502).</summary>
    public int ConnectMs { get; set; } = 5_000;

    /// <summary>Gets or sets the time allowed for a backend's response headers (exceeded: 504).</summary>
    public int ResponseHeadersMs { get; set; } = 30_000;

    /// <summary>Gets or sets how long idle client keep-alive and pooled backend connections are kept.</summary>
    public int IdleMs { get; set; } = 60_000;

    /// <summary>
    /// Gets or sets how long a response body may go without a byte from the backend before the proxy gives up on it
    /// (nginx's proxy_read_timeout); 0 for no limit. A server-sent-events stream needs a keep-alive event within it.
    /// </summary>
    public int ResponseBodyIdleMs { get; set; } = 60_000;
}

/// <summary>Request limits.</summary>
internal sealed class LimitOptions
{
    /// <summary>Gets or sets the largest request body accepted, in bytes (larger: 413).</summary>
    public long MaxRequestBodyBytes { get; set; } = 1L << 30;

    /// <summary>Gets or sets the largest total size of a request's headers, in bytes (larger: 431).</summary>
    public int MaxRequestHeadersTotalBytes { get; set; } = 32 * 1024;

    /// <summary>Gets or sets the most concurrent client connections (0 = no limit).</summary>
    public long MaxConcurrentConnections { get; set; }

    /// <summary>Gets or sets the most headers a request may carry (more: 431).</summary>
    public int MaxRequestHeaderCount { get; set; } = 100;

    /// <summary>Gets or sets how long a client may take to send the request headers (slowloris on headers).</summary>
    public int RequestHeadersTimeoutMs { get; set; } = 30_000;

    /// <summary>Gets or sets the slowest request body accepted after the grace period, in bytes per second (0 = no minimum).</summary>
    public int MinRequestBodyBytesPerSecond { get; set; } = 240;

    /// <summary>Gets or sets how long a request body may start slower than the minimum rate.</summary>
    public int MinRequestBodyGraceMs { get; set; } = 5_000;

    /// <summary>
    /// Gets or sets the slowest a client may read a response, in bytes per second after the grace period (0 = no
    /// minimum): Kestrel's MinResponseDataRate, applied by the fast path with the same rule. A client that stops reading
    /// is cut off instead of holding its backend connection.
    /// </summary>
    public int MinResponseBytesPerSecond { get; set; } = 240;

    /// <summary>Gets or sets the grace period of <see cref="MinResponseBytesPerSecond"/>.</summary>
    public int MinResponseGraceMs { get; set; } = 5_000;
}

/// <summary>Forwarding rules.</summary>
internal sealed class ForwardingOptions
{
    /// <summary>Gets the networks (CIDR or single address) whose X-Forwarded-For is trusted and appended to.</summary>
    public List<string> TrustedProxies { get; } = [];

    /// <summary>Gets or sets the Host header sent upstream: Backend (the backend URL's authority) or Preserve.</summary>
    public string? HostHeader { get; set; } = "Backend";

    /// <summary>Gets or sets whether X-Forwarded-For, -Proto and -Host are set.</summary>
    public bool XForwarded { get; set; } = true;

    /// <summary>
    /// Gets or sets the headers removed from requests of peers outside <see cref="TrustedProxies"/> (matched without
    /// case, <c>_</c> the same as <c>-</c>), so that a client cannot tell a backend that trusts them where it came
    /// from; null for <see cref="Http.ForwardedHeaders.DefaultUntrusted"/>. X-Forwarded-For, -Proto and -Host
    /// from such peers are always removed (and replaced when <see cref="XForwarded"/> is on).
    /// </summary>
    public List<string>? UntrustedHeaders { get; set; }
}

/// <summary>The Prometheus scrape endpoint.</summary>
internal sealed class MetricsOptions
{
    /// <summary>Gets or sets whether /metrics is served at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the scrape path.</summary>
    public string? Path { get; set; } = "/metrics";

    /// <summary>Gets or sets the former name of <see cref="AdminOptions.Listen"/>, refused with a message that names the new key.</summary>
    public string? AdminListen { get; set; }
}

/// <summary>Graceful drain.</summary>
internal sealed class DrainOptions
{
    /// <summary>Gets or sets how long in-flight requests may take to finish after SIGTERM/SIGINT.</summary>
    public int TimeoutMs { get; set; } = 30_000;
}

/// <summary>Logging.</summary>
internal sealed class LogOptions
{
    /// <summary>Gets or sets the lowest level logged by the proxy (Debug adds a line per failed request).</summary>
    public string? Level { get; set; } = "Information";
}

/// <summary>Active probes and the health policy both they and passive reports feed.</summary>
internal sealed class HealthCheckOptions
{
    /// <summary>Gets or sets whether backends are probed actively.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the path probed with GET on every backend (2xx or 3xx = healthy).</summary>
    public string? Path { get; set; } = "/health";

    /// <summary>Gets or sets the time between two probes of one backend (at most; jitter only shortens it).</summary>
    public int IntervalMs { get; set; } = 1_000;

    /// <summary>Gets or sets how long a probe may take before it counts as failed.</summary>
    public int TimeoutMs { get; set; } = 500;

    /// <summary>Gets or sets the most a probe interval is shortened at random, so probes of many proxies spread out.</summary>
    public int JitterMs { get; set; } = 100;

    /// <summary>Gets or sets the consecutive failures (probes or requests) that take a backend out of rotation.</summary>
    public int UnhealthyThreshold { get; set; } = 2;

    /// <summary>Gets or sets the successes a Recovering backend needs to be Healthy again.</summary>
    public int HealthyThreshold { get; set; } = 2;

    /// <summary>
    /// Gets or sets the share of backends, in percent, below which health is ignored and requests go to all of them
    /// (Envoy's panic threshold): a failing remainder is better than a total outage, and a client that provokes errors
    /// or rate limits cannot take every backend out. 0 never panics (then no available backend answers 503).
    /// </summary>
    public int PanicThresholdPercent { get; set; } = 50;

    /// <summary>Gets the passive health settings (outcomes of forwarded requests).</summary>
    public PassiveHealthOptions Passive { get; } = new();
}

/// <summary>Passive health: every forwarded request reports its outcome.</summary>
internal sealed class PassiveHealthOptions
{
    /// <summary>Gets or sets whether forwarded requests report their outcomes.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the backend status codes that count as failures: codes and ranges, such as <c>500-599</c> or <c>500,502-504</c>.</summary>
    public string? FailureStatusCodes { get; set; } = "500-599";

    /// <summary>Gets or sets how long a backend rests after a 429 without Retry-After.</summary>
    public int DefaultRetryAfterMs { get; set; } = 1_000;

    /// <summary>Gets or sets the longest rest a backend's Retry-After can ask for.</summary>
    public int MaxRetryAfterMs { get; set; } = 300_000;
}

/// <summary>Per-client rate limiting: a token bucket per client address.</summary>
internal sealed class RateLimitingOptions
{
    /// <summary>Gets or sets whether clients are rate-limited (off by default: behind an unconfigured load balancer every request has one peer).</summary>
    public bool Enabled { get; set; }

    /// <summary>Gets or sets the tokens each client's bucket gains per second (its sustained request rate).</summary>
    public int TokensPerSecond { get; set; } = 100;

    /// <summary>Gets or sets the bucket size: the most requests a client may send at once.</summary>
    public int Burst { get; set; } = 200;

    /// <summary>Gets or sets how many leading bits of an IPv6 address name one client (one subscriber usually holds a /64).</summary>
    public int IPv6PrefixLength { get; set; } = 64;

    /// <summary>
    /// Gets or sets whether the proxies that share <c>State:Redis</c> also share each client's limit: then a client gets
    /// at most <see cref="TokensPerSecond"/> per second across the fleet, in one-second windows on Redis's clock, in place
    /// of each proxy's own bucket (<see cref="Burst"/> is not used).
    /// </summary>
    public bool Shared { get; set; }

    /// <summary>Gets or sets how often a proxy sends its counts to Redis and learns the fleet's (with <see cref="Shared"/>).</summary>
    public int SyncMs { get; set; } = 100;
}

/// <summary>Retries on another backend.</summary>
internal sealed class RetryOptions
{
    /// <summary>Gets or sets the most retries of one request (0 = never retry).</summary>
    public int Count { get; set; } = 1;

    /// <summary>Gets or sets the retries allowed as a percentage of the requests in the budget window.</summary>
    public int BudgetPercent { get; set; } = 20;

    /// <summary>Gets or sets the sliding window the budget counts requests and retries over.</summary>
    public int BudgetWindowMs { get; set; } = 10_000;

    /// <summary>Gets or sets the retries always allowed per window, so a quiet proxy can still retry.</summary>
    public int BudgetMinRetries { get; set; } = 10;

    /// <summary>
    /// Gets or sets the largest request body read whole before the first attempt, so that a retry can send it again;
    /// a larger body streams to the backend as it arrives and is never retried once a byte of it went out.
    /// </summary>
    public int MaxBufferedBodyBytes { get; set; } = 64 * 1024;
}
