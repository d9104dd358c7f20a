namespace Loadwise.AotProxy.Configuration;

/// <summary>
/// The access log: one line per request, off by default. <c>common</c> is Apache's common log format (client, time,
/// request line, status, bytes) followed by <c>key=value</c> for the other fields; <c>json</c> is one JSON object per line.
/// </summary>
/// <example><code>
/// "AccessLog": { "Enabled": true, "Format": "json", "Path": "/var/log/loadwise/access.log",
///                "Fields": [ "time", "client", "method", "path", "status", "backend", "total_ms" ] }
/// </code></example>
internal sealed class AccessLogOptions
{
    /// <summary>The field names, in their default order.</summary>
    public static readonly string[] FieldNames =
        ["time", "client", "method", "path", "query", "status", "backend", "upstream_ms", "total_ms", "bytes", "retries"];

    /// <summary>The formats.</summary>
    public static readonly string[] Formats = ["common", "json"];

    /// <summary>Gets or sets whether a line is written per request.</summary>
    public bool Enabled { get; set; }

    /// <summary>Gets or sets the format: <c>common</c> (default) or <c>json</c>.</summary>
    public string Format { get; set; } = "common";

    /// <summary>
    /// Gets or sets the file the lines are appended to (reopened on <c>SIGUSR1</c>, for logrotate); null or <c>-</c>:
    /// standard output.
    /// </summary>
    public string? Path { get; set; }

    /// <summary>
    /// Gets the fields written, in order (for <c>common</c>, a fixed field left out shows <c>-</c>). Empty: every field
    /// but <c>query</c>, which may carry secrets (tokens in URLs) and is written only when listed.
    /// </summary>
    public List<string> Fields { get; } = [];

    /// <summary>Gets or sets the most lines queued for the writer; beyond it lines are dropped and counted, never waited for.</summary>
    public int QueueCapacity { get; set; } = 16_384;
}

/// <summary>Telemetry beyond the Prometheus scrape.</summary>
internal sealed class TelemetryOptions
{
    /// <summary>Gets the OTLP export settings.</summary>
    public OtlpOptions Otlp { get; } = new();
}

/// <summary>Metrics pushed over OTLP (OpenTelemetry's protocol), in addition to the scrape.</summary>
internal sealed class OtlpOptions
{
    /// <summary>Whether this build has the exporter (<c>-p:LoadwiseOtlp=false</c> leaves OpenTelemetry's SDK out).</summary>
#if LOADWISE_OTLP
    public static bool BuiltIn => true;
#else
    public static bool BuiltIn => false;
#endif

    /// <summary>Gets or sets the collector's URL (e.g. <c>http://127.0.0.1:4318</c>); null: no export.</summary>
    public string? Endpoint { get; set; }

    /// <summary>Gets or sets the protocol: <c>http/protobuf</c> (default, port 4318) or <c>grpc</c> (port 4317).</summary>
    public string Protocol { get; set; } = "http/protobuf";

    /// <summary>Gets or sets the milliseconds between exports.</summary>
    public int IntervalMs { get; set; } = 10_000;
}
