using BenchmarkDotNet.Attributes;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Health;
using Loadwise.AotProxy.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Loadwise.Benchmarks;

/// <summary>The two exporters compared: the proxy's own and the OpenTelemetry SDK's Prometheus AspNetCore exporter.</summary>
public enum ScrapeExporter
{
    /// <summary>The proxy's MeterListener-based <see cref="PrometheusExporter"/>.</summary>
    Handwritten,

    /// <summary>A MeterProvider with OpenTelemetry.Exporter.Prometheus.AspNetCore's middleware (response cache off).</summary>
    OTel,
}

/// <summary>
/// The proxy's instruments as ProxyServer creates them (ProxyMetrics, Core's collector with the health tracker's node
/// gauge, the panic-picks counter, the runtime's meter), with traffic recorded on every backend, exported by either
/// exporter: one scrape served into an in-memory response, and one request's recording (a completed request: counter
/// and histogram) while that exporter listens. Only one exporter listens in each benchmark process.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class ScrapeBenchmarks
{
    private static readonly double[] SecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly MemoryStream _body = new(256 * 1024);
    private Backend[] _backends = [];
    private ServiceProvider _services = null!;
    private ProxyMetrics _metrics = null!;
    private DiagnosticsMetricsCollector _coreMetrics = null!;
    private PrometheusExporter? _handwritten;
    private MeterProvider? _provider;
    private RequestDelegate? _middleware;
    private int _next;

    [Params(3, 50)]
    public int Backends { get; set; }

    [Params(ScrapeExporter.Handwritten, ScrapeExporter.OTel)]
    public ScrapeExporter Exporter { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _backends = Enumerable.Range(0, Backends)
            .Select(i => new Backend($"backend-{i + 1}", new Uri($"http://127.0.0.1:{8081 + i}"), weight: 1, capacity: 0))
            .ToArray();
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = _services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        object scope = new();
        if (Exporter == ScrapeExporter.OTel)
        {
            _provider = Sdk.CreateMeterProviderBuilder()
                .AddMeter(ProxyMetrics.MeterName, DiagnosticsMetricsCollector.MeterName, "System.Runtime")
                .AddView("loadwise.request.duration", new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets })
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0)
                .Build();
            var app = new ApplicationBuilder(_services);
            app.UseOpenTelemetryPrometheusScrapingEndpoint(_provider, predicate: null, path: "/metrics", configureBranchedPipeline: null, optionsName: null);
            app.Run(static context =>
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            });
            _middleware = app.Build();
        }

        _coreMetrics = new DiagnosticsMetricsCollector(meterFactory);
        if (Exporter == ScrapeExporter.Handwritten)
        {
            _handwritten = new PrometheusExporter(meter => ReferenceEquals(meter.Scope, scope)
                || ReferenceEquals(meter.Scope, meterFactory)
                || (meter.Scope is null && meter.Name is ProxyMetrics.MeterName or "System.Runtime"));
        }

        var health = new BackendHealth(_backends, new HealthCheckOptions(), _coreMetrics, NullLogger.Instance);
        _coreMetrics.ObserveNodes(health.Tracker);
        _metrics = new ProxyMetrics(scope, () => _backends, static () => 0, () => health.Filter.PanicPicks);

        // Traffic: every backend answers 200 and 404, some 502s and 504s, picks, drops and retries: the series a
        // proxy under load exports.
        var random = new Random(42);
        foreach (Backend backend in _backends)
        {
            for (int i = 0; i < 200; i++)
            {
                _metrics.Completed(backend, i % 20 == 0 ? 404 : 200, random.NextDouble() * 0.3);
                _coreMetrics.OnSelected("RoundRobin");
            }

            _metrics.Completed(backend, 502, 0.002);
            _metrics.Completed(backend, 504, 30);
        }

        _metrics.Dropped(ProxyMetrics.ClientAbort);
        _metrics.Dropped(ProxyMetrics.RateLimited);
        _metrics.Retry(ProxyMetrics.Retried);
        _metrics.Retry(ProxyMetrics.BudgetExhausted);

        string text = ScrapeText();
        if (!text.Contains("loadwise_requests_total{", StringComparison.Ordinal) || !text.Contains($"backend=\"backend-{Backends}\"", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("the scrape lacks the recorded series:\n" + text);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _handwritten?.Dispose();
        _provider?.Dispose();
        _coreMetrics.Dispose();
        _metrics.Dispose();
        _services.Dispose();
    }

    /// <summary>One scrape, served as the proxy serves it, into an in-memory response body.</summary>
    [Benchmark]
    public Task<long> Scrape() => ServeAsync();

    /// <summary>One completed request recorded (requests counter and duration histogram), round robin over the backends.</summary>
    [Benchmark]
    public void RecordRequest()
    {
        int next = _next + 1 == _backends.Length ? 0 : _next + 1;
        _next = next;
        _metrics.Completed(_backends[next], 200, 0.0123);
    }

    private async Task<long> ServeAsync()
    {
        _body.SetLength(0);
        var context = new DefaultHttpContext();
        context.Request.Path = "/metrics";
        context.Response.Body = _body;
        if (_middleware is not null)
        {
            await _middleware(context).ConfigureAwait(false);
        }
        else
        {
            string text = _handwritten!.Scrape();
            context.Response.ContentType = PrometheusExporter.ContentType;
            await context.Response.WriteAsync(text).ConfigureAwait(false);
        }

        return _body.Length;
    }

    private string ScrapeText()
    {
        ServeAsync().GetAwaiter().GetResult();
        return System.Text.Encoding.UTF8.GetString(_body.GetBuffer(), 0, (int)_body.Length);
    }
}
