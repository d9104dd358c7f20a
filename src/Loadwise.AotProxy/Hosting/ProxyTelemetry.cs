using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Logging;
using Loadwise.AotProxy.Metrics;
#if LOADWISE_OTLP
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
#endif

namespace Loadwise.AotProxy.Hosting;

/// <summary>
/// What the proxy reports besides its scrape and its log: the access log (<c>AccessLog</c>) and the OTLP metrics
/// export (<c>Telemetry:Otlp</c>). Both are fixed for the process's life (a reload names them as needing a restart).
/// </summary>
/// <example><code>
/// using var telemetry = ProxyTelemetry.Create(options, metrics, clock.Time);
/// telemetry.AccessLog?.Reopen(); // on SIGUSR1
/// </code></example>
internal sealed class ProxyTelemetry : IDisposable
{
    private readonly IDisposable? _otlp;

    private ProxyTelemetry(AccessLog? accessLog, IDisposable? otlp, string? otlpEndpoint)
    {
        AccessLog = accessLog;
        _otlp = otlp;
        OtlpEndpoint = otlpEndpoint;
    }

    /// <summary>Gets the access log, or null when it is off.</summary>
    public AccessLog? AccessLog { get; }

    /// <summary>Gets the URL metrics are pushed to over OTLP, or null.</summary>
    public string? OtlpEndpoint { get; }

    /// <summary>Starts what <paramref name="options"/> turns on (validated options).</summary>
    public static ProxyTelemetry Create(ProxyOptions options, ProxyMetrics metrics, TimeProvider time)
    {
        AccessLog? accessLog = null;
        AccessLogOptions log = options.AccessLog;
        if (log.Enabled)
        {
            Func<Stream> open = log.Path is null or "-" ? LineWriter.Keep(Console.OpenStandardOutput()) : LineWriter.OpenFile(log.Path);
            // Access-log lines only: drops are counted in loadwise_access_log_dropped_total, not written among them.
            var writer = new LineWriter(open, log.QueueCapacity, droppedNotice: null, "loadwise access log");
            accessLog = new AccessLog(log.Format == "json", AccessLog.ParseFields(log.Fields), writer, time);
            metrics.ObserveAccessLogDrops(() => writer.DroppedTotal);
        }

        OtlpOptions otlp = options.Telemetry.Otlp;
        string? endpoint = otlp.Endpoint is { } configured ? OtlpUrl(configured, otlp.Protocol) : null;
        return new ProxyTelemetry(accessLog, StartOtlp(endpoint, otlp), endpoint);
    }

#if LOADWISE_OTLP
    private static MeterProvider? StartOtlp(string? endpoint, OtlpOptions otlp) =>
        endpoint is null
            ? null
            : Sdk.CreateMeterProviderBuilder()
                .ConfigureResource(resource => resource.AddService("loadwise-proxy"))
                .AddMeter(ProxyMetrics.MeterName, "Loadwise", "System.Runtime")
                .AddOtlpExporter((exporter, reader) =>
                {
                    exporter.Endpoint = new Uri(endpoint);
                    exporter.Protocol = otlp.Protocol == "grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = otlp.IntervalMs;
                    // Counters as running totals, as the scrape has them: a collector that misses a push loses nothing.
                    reader.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
                })
                .Build();
#else
    // Validation refuses an endpoint in a build without the exporter (OtlpOptions.BuiltIn).
    private static IDisposable? StartOtlp(string? endpoint, OtlpOptions otlp) =>
        endpoint is null || otlp.Endpoint is null ? null : throw new NotSupportedException("this build has no OTLP export (-p:LoadwiseOtlp=false)");
#endif

    /// <summary>
    /// The exporter's URL: over http/protobuf a bare collector address gets OTLP's metrics path (the SDK uses a URL set in
    /// code as is), over gRPC the address stays.
    /// </summary>
    internal static string OtlpUrl(string endpoint, string protocol)
    {
        var uri = new Uri(endpoint);
        return protocol != "grpc" && uri.AbsolutePath is "/" or "" ? new Uri(uri, "/v1/metrics").ToString() : uri.ToString();
    }

    /// <summary>Pushes what the OTLP export has not sent yet (at shutdown, so the last seconds are not lost).</summary>
    public void Flush()
    {
#if LOADWISE_OTLP
        (_otlp as MeterProvider)?.ForceFlush(timeoutMilliseconds: 2_000);
#endif
    }

    public void Dispose()
    {
        _otlp?.Dispose();
        AccessLog?.Dispose();
    }
}
