using System.Diagnostics.Metrics;
using System.Net;
using Loadwise.AotProxy.Admin;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Downstream;
using Loadwise.AotProxy.Health;
using Loadwise.AotProxy.Listener;
using Loadwise.AotProxy.Logging;
using Loadwise.AotProxy.Metrics;
using Loadwise.AotProxy.State;
using Loadwise.AotProxy.Router;
using Loadwise.AotProxy.Threading;
using Loadwise.AotProxy.Tls;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

namespace Loadwise.AotProxy.Hosting;

/// <summary>
/// The proxy as a host: trimmed Kestrel (an empty builder, see <see cref="EmptyWebHost"/>) with one terminal request delegate that either serves the
/// scrape or forwards. Build it from a configuration that <see cref="ProxyOptionsValidator"/> accepted.
/// </summary>
internal sealed partial class ProxyServer : IAsyncDisposable
{
    /// <summary>The runtime's built-in meter (.NET 9 and later): <c>dotnet.gc.collections</c>, <c>dotnet.process.cpu.time</c> and the like.</summary>
    private const string RuntimeMeterName = "System.Runtime";

    private readonly WebApplication _app;
    private readonly ActiveForwarder _active;
    private readonly KestrelEntry _kestrelEntry;
    private readonly ProxyMetrics _metrics;
    private readonly DiagnosticsMetricsCollector _coreMetrics;
    private readonly PrometheusExporter _exporter;
    private readonly ProxyTelemetry _telemetry;
    private readonly SharedState? _sharedState;
    private readonly Http1Codec? _codec;
    private readonly AdminApi? _admin;
    private readonly List<ListenOptions> _listeners = [];
    private readonly List<string> _listenerSchemes = [];
    private readonly TlsTermination? _tls;
    private ListenOptions? _adminListener;
    private readonly ProxyOptions _startOptions; // what the listeners, Kestrel and the runtime were started with
    private readonly ILogger _logger;
    private long _drainStarted;
    private readonly ProxyClock _clock;
    private readonly GenerationServices _services;
    private ProxyGeneration _generation;
    private volatile AdminToken? _adminToken;
    private readonly bool _handleSignals;

    /// <summary>Kestrel's switch that refuses a bare LF as a line end (read when its options are made).</summary>
    private const string RefuseBareLineFeeds = "Microsoft.AspNetCore.Server.Kestrel.DisableHttp1LineFeedTerminators";

    private ProxyServer(ProxyOptions options, bool handleSignals, bool consoleLogging, TimeProvider time)
    {
        _clock = new ProxyClock(time);
        // RFC 9112 section 2.2 lets a recipient take a bare LF as a line end, and Kestrel does by default; nginx-style
        // front ends that do not could then frame the same bytes differently (a smuggling gap). The proxy takes CRLF
        // only: a bare LF is a 400, at once.
        AppContext.SetSwitch(RefuseBareLineFeeds, true);
        _startOptions = options;
        _handleSignals = handleSignals;
        WebApplicationBuilder builder = EmptyWebHost.CreateBuilder();
        if (!handleSignals)
        {
            builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        }

        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromMilliseconds(options.Drain.TimeoutMs));
        builder.Services.Configure<ConsoleLifetimeOptions>(lifetime => lifetime.SuppressStatusMessages = true);
        ConfigureLogging(builder.Logging, consoleLogging, Enum.Parse<LogLevel>(options.Log.Level!, ignoreCase: true));
        // Request processing stays on the thread that read the request: no pool hop per read (see PerformanceOptions).
        builder.WebHost.UseSockets(sockets =>
        {
            sockets.UnsafePreferInlineScheduling = options.Performance.InlineScheduling;
            sockets.WaitForDataBeforeAllocatingBuffer = options.Performance.WaitForDataBeforeAllocatingBuffer;
        });
        if (options.Performance.EventLoop && OperatingSystem.IsLinux())
        {
            // Registered after the socket transport, so Kestrel binds IP endpoints with it (the last factory that can bind wins).
            int threads = options.Performance.EventLoopThreads > 0 ? options.Performance.EventLoopThreads : Environment.ProcessorCount;
            builder.Services.AddSingleton<IConnectionListenerFactory>(services =>
                new LoopTransportFactory(
                    threads,
                    options.Performance.WaitForDataBeforeAllocatingBuffer,
                    services.GetRequiredService<ILoggerFactory>().CreateLogger("Loadwise.EventLoop"),
                    // Kestrel's block pool, as its socket transport takes.
                    services.GetService<IMemoryPoolFactory<byte>>() is { } pools ? new LoopPipeOptions(pools.Create(new MemoryPoolOptions { Owner = "loadwise-event-loop" })) : null));
        }

        // Before Kestrel is configured: a certificate that does not load stops the start here, with its file named.
        _tls = TlsTermination.Create(options.Tls, () => _logger!, time);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            ProtocolListeners.ConfigureHttp2Limits(kestrel.Limits.Http2, options.Http2);
            kestrel.AddServerHeader = false;
            // Backend header values with bytes above 0x7F (obs-text, RFC 9110 section 5.5) pass as they came, as on the
            // proxy's own path, nginx and HAProxy; without this Kestrel refuses them.
            kestrel.ResponseHeaderEncodingSelector = static _ => System.Text.Encoding.Latin1;
            // Request header values likewise pass byte for byte (Kestrel would decode them as UTF-8, and the proxy would
            // then have to re-encode characters no Latin-1 byte stands for).
            kestrel.RequestHeaderEncodingSelector = static _ => System.Text.Encoding.Latin1;
            kestrel.Limits.MaxRequestBodySize = options.Limits.MaxRequestBodyBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = options.Limits.MaxRequestHeadersTotalBytes;
            kestrel.Limits.MaxConcurrentConnections = options.Limits.MaxConcurrentConnections > 0 ? options.Limits.MaxConcurrentConnections : null;
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMilliseconds(options.Timeouts.IdleMs);
            kestrel.Limits.MaxRequestHeaderCount = options.Limits.MaxRequestHeaderCount;
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromMilliseconds(options.Limits.RequestHeadersTimeoutMs);
            kestrel.Limits.MinRequestBodyDataRate = options.Limits.MinRequestBodyBytesPerSecond > 0
                ? new MinDataRate(options.Limits.MinRequestBodyBytesPerSecond, TimeSpan.FromMilliseconds(options.Limits.MinRequestBodyGraceMs))
                : null;
            kestrel.Limits.MinResponseDataRate = MinResponseRate(options.Limits);
            foreach (string url in options.Listen)
            {
                var uri = new Uri(url);
                ListenOptions listener = Listen(kestrel, uri);
                _listenerSchemes.Add(uri.Scheme);
                if (uri.Scheme == Uri.UriSchemeHttps)
                {
                    // Kestrel's HTTP layer serves TLS connections whole: the fast path reads plain HTTP/1.1 only.
                    _tls!.Apply(listener, url);
                    _listeners.Add(listener);
                    continue;
                }

                bool h2c = ProtocolListeners.ConfigureCleartext(listener, url, options.Http2);
                if (options.Performance.FastPath && !h2c)
                {
                    // In front of Kestrel's HTTP layer; _codec is null when the backends rule it out (then a no-op).
                    listener.Use(next => context => _codec is { } codec ? codec.RunAsync(context, next) : next(context));
                }

                _listeners.Add(listener);
            }

            if (options.Admin.Listen is { } admin)
            {
                _adminListener = Listen(kestrel, new Uri(admin));
            }
        });

        _app = builder.Build();
        _logger = _app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Loadwise.Proxy");

        // Meters are scoped to this instance (the proxy's own, and Core's "Loadwise" meter through this app's meter
        // factory), so several proxies in one process each export only their own numbers. The runtime's own meter
        // (GC collections and pauses, CPU time, working set, thread pool) is the process's, and comes along.
        var meterFactory = _app.Services.GetRequiredService<IMeterFactory>();
        _metrics = new ProxyMetrics(this, () => _active!.Current.Backends, () => _active!.InFlight, () => _active!.PanicPicks);
        _coreMetrics = new DiagnosticsMetricsCollector(meterFactory);
        _exporter = new PrometheusExporter(meter => ReferenceEquals(meter.Scope, this)
            || ReferenceEquals(meter.Scope, meterFactory)
            || (meter.Scope is null && meter.Name is ProxyMetrics.MeterName or RuntimeMeterName));

        _telemetry = ProxyTelemetry.Create(options, _metrics, time);
        _sharedState = SharedState.Create(options.State, _app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Loadwise.State"), meterFactory, time);
        _services = new GenerationServices(
            _metrics, _coreMetrics, _logger, _clock, (_app.Services.GetService<IConnectionListenerFactory>() as LoopTransportFactory)?.Group, _telemetry.AccessLog, _sharedState?.Store,
            _sharedState is null ? null : _sharedState.CreateRateLimit);
        _generation = ProxyGeneration.Create(options, previous: null, _services);
        _active = new ActiveForwarder(_generation.Forwarder);
        _coreMetrics.ObserveNodes(() => _active.Current.Health.Tracker.CountByStatus());
        _kestrelEntry = new KestrelEntry(_active, _metrics, options.Retries.MaxBufferedBodyBytes);
        _adminToken = AdminToken.From(options.Admin);
        if (_adminListener is not null)
        {
            _admin = new AdminApi(_active, () => Volatile.Read(ref _generation).Options, ReloadAsync, SetDrainedAsync, () => _adminToken, time, new Uri(options.Admin.Listen!));
        }

        string? metricsPath = options.Metrics.Enabled ? options.Metrics.Path : null;
        if (options.Performance.FastPath)
        {
            // The scrape and the admin API are Kestrel's to serve when they share the proxy's port.
            string[] handOff = _adminListener is null && metricsPath is not null ? [metricsPath] : [];
            _codec = new Http1Codec(_active, new Http1CodecSettings(
                new RequestHeadLimits(new KestrelServerLimits().MaxRequestLineSize, options.Limits.MaxRequestHeadersTotalBytes, options.Limits.MaxRequestHeaderCount, options.Limits.MaxRequestBodyBytes),
                TimeSpan.FromMilliseconds(options.Timeouts.IdleMs),
                TimeSpan.FromMilliseconds(options.Limits.RequestHeadersTimeoutMs),
                handOff,
                MinResponseRate(options.Limits))
            {
                MaxBufferedBodyBytes = options.Retries.MaxBufferedBodyBytes,
                MinRequestBodyDataRate = options.Limits.MinRequestBodyBytesPerSecond > 0
                    ? new MinDataRate(options.Limits.MinRequestBodyBytesPerSecond, TimeSpan.FromMilliseconds(options.Limits.MinRequestBodyGraceMs))
                    : null,
            },
                _clock);
        }

        _app.Run(context =>
        {
            bool onAdmin = _adminListener is not null && context.Connection.LocalPort == ((IPEndPoint)_adminListener.EndPoint).Port;
            if (metricsPath is not null && (onAdmin || _adminListener is null) && string.Equals(context.Request.Path.Value, metricsPath, StringComparison.Ordinal))
            {
                return ServeMetricsAsync(context);
            }

            if (onAdmin)
            {
                if (_admin is not null && AdminApi.Handles(context))
                {
                    return _admin.ServeAsync(context);
                }

                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            return _kestrelEntry.ForwardAsync(context);
        });
        _app.Lifetime.ApplicationStopping.Register(() =>
        {
            Volatile.Write(ref _drainStarted, _clock.Timestamp);
            Log.DrainStarted(_logger, _active.InFlight, options.Drain.TimeoutMs);
        });
    }

    /// <summary>Gets the backends of the configuration in force.</summary>
    public IReadOnlyList<Backend> Backends => _active.Current.Backends;

    /// <summary>Gets the strategy of the configuration in force.</summary>
    public string StrategyName => _active.Current.StrategyName;

    /// <summary>Gets the configuration in force (after the last applied reload).</summary>
    public ProxyOptions Options => Volatile.Read(ref _generation).Options;

    /// <summary>Gets the proxy's URLs with their real ports (valid after start).</summary>
    public IReadOnlyList<string> Urls => [.. _listeners.Select((l, i) => _listenerSchemes[i] + "://" + l.EndPoint)];

    /// <summary>Gets TLS termination (the https:// listeners' certificates), or null without an https:// listener.</summary>
    public TlsTermination? Tls => _tls;

    /// <summary>Gets the admin listener's URL with its real port, or null (valid after start).</summary>
    public string? AdminUrl => _adminListener is null ? null : "http://" + _adminListener.EndPoint;

    public long InFlight => _active.InFlight;

    /// <summary>Gets the backend connections idle in the proxy's own pools right now.</summary>
    public int IdleBackendConnections => _active.Current.IdleConnections;

    /// <summary>Gets the access log, or null when it is off.</summary>
    public AccessLog? AccessLog => _telemetry.AccessLog;

    /// <summary>Gets the admin API, or null without an admin listener.</summary>
    public AdminApi? Admin => _admin;

    /// <summary>Gets the proxy's own HTTP/1.1 codec, or null when it is off or the backends rule it out (see <see cref="PerformanceOptions.FastPath"/>).</summary>
    public Http1Codec? Codec => _codec;

    /// <summary>Gets the socket transport settings Kestrel runs with (after <see cref="PerformanceOptions"/>).</summary>
    public SocketTransportOptions Transport => _app.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value;

    public PrometheusExporter Exporter => _exporter;

    /// <summary>Gets the backends' health in the configuration in force (Core's tracker and filter, fed by probes and passive reports).</summary>
    public BackendHealth Health => _active.Current.Health;

    /// <summary>Gets PeakEwma's latency tracker of the configuration in force, or null for other strategies.</summary>
    public PeakEwmaTracker? Latency => _active.Current.Latency;

    /// <summary>Creates a proxy from a validated configuration.</summary>
    /// <param name="options">A configuration <see cref="ProxyOptionsValidator"/> accepted.</param>
    /// <param name="handleSignals">Whether SIGINT and SIGTERM stop the proxy (off for a proxy a test runs in-process).</param>
    /// <param name="consoleLogging">Whether log lines go to standard output.</param>
    /// <param name="time">The time every timeout, probe interval, rest and retry window is measured on (the system's by default; tests pass a fake).</param>
    public static ProxyServer Create(ProxyOptions options, bool handleSignals = true, bool consoleLogging = true, TimeProvider? time = null) =>
        new(options, handleSignals, consoleLogging, time ?? TimeProvider.System);

    /// <summary>Gets or sets the demo backends' URLs, logged at start in demo mode.</summary>
    public IReadOnlyList<string>? DemoBackendUrls { get; set; }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_sharedState is not null)
        {
            await _sharedState.FollowAsync(Health.Tracker).ConfigureAwait(false);
        }

        await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        _generation.Start();
        _admin?.Start();
        StartReloadTriggers();
        if (DemoBackendUrls is { Count: > 0 } demo)
        {
            Log.DemoBackendsStarted(_logger, string.Join(", ", demo));
        }

        string metrics = !_startOptions.Metrics.Enabled ? "(disabled)" : (AdminUrl ?? Urls[0]) + _startOptions.Metrics.Path;
        Log.Started(_logger, ProxyVersion.Current, string.Join(", ", Urls), Backends.Count, StrategyName, metrics);
    }

    /// <summary>Runs until SIGINT/SIGTERM (or <see cref="StopAsync"/>), then drains and returns.</summary>
    public async Task RunAsync()
    {
        await StartAsync().ConfigureAwait(false);
        await _app.WaitForShutdownAsync().ConfigureAwait(false);
        await StopProbingAsync().ConfigureAwait(false);
        LogDrainFinished();
    }

    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        await StopProbingAsync().ConfigureAwait(false);
        LogDrainFinished();
    }

    public async ValueTask DisposeAsync()
    {
        StopReloadTriggers();
        await _app.DisposeAsync().ConfigureAwait(false);
        _tls?.Dispose();
        _admin?.Dispose();
        await RetireAllAsync().ConfigureAwait(false);
        _telemetry.Flush();
        _telemetry.Dispose();
        if (_sharedState is not null)
        {
            await _sharedState.DisposeAsync().ConfigureAwait(false);
        }

        _exporter.Dispose();
        _coreMetrics.Dispose();
        _metrics.Dispose();
    }

    private void LogDrainFinished()
    {
        long started = Volatile.Read(ref _drainStarted);
        long elapsed = started == 0 ? 0 : (long)_clock.Elapsed(started).TotalMilliseconds;
        Log.DrainFinished(_logger, elapsed, _active.InFlight);
    }

    private async Task ServeMetricsAsync(HttpContext context)
    {
        string text = _exporter.Scrape();
        context.Response.ContentType = PrometheusExporter.ContentType;
        await context.Response.WriteAsync(text, context.RequestAborted).ConfigureAwait(false);
    }

    private static MinDataRate? MinResponseRate(LimitOptions limits) => limits.MinResponseBytesPerSecond > 0
        ? new MinDataRate(limits.MinResponseBytesPerSecond, TimeSpan.FromMilliseconds(limits.MinResponseGraceMs))
        : null;

    private static ListenOptions Listen(KestrelServerOptions kestrel, Uri url)
    {
        ListenOptions? created = null;
        if (url.IsLoopback && !IPAddress.TryParse(url.Host, out _))
        {
            kestrel.ListenLocalhost(url.Port, l => created = l);
        }
        else if (IPAddress.TryParse(url.Host.Trim('[', ']'), out IPAddress? address))
        {
            kestrel.Listen(address, url.Port, l => created = l);
        }
        else
        {
            kestrel.ListenAnyIP(url.Port, l => created = l);
        }

        return created!;
    }

    private static void ConfigureLogging(ILoggingBuilder logging, bool console, LogLevel level)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(level);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("System", LogLevel.Warning);
        // A failed start (port in use) is reported by the command line in one line; the host's own copy is a stack trace.
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        if (console)
        {
            // Disposed by the host's container (a factory registration), which writes out what is still queued.
            logging.Services.AddSingleton<ILoggerProvider>(static _ => new LineLoggerProvider(Console.OpenStandardOutput()));
        }
    }
}

/// <summary>The proxy's version, from the assembly's informational version.</summary>
internal static class ProxyVersion
{
    public static string Current { get; } = Read();

    private static string Read()
    {
        string? version = typeof(ProxyVersion).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false) is [System.Reflection.AssemblyInformationalVersionAttribute attribute, ..]
            ? attribute.InformationalVersion
            : null;
        return version is null ? "0.0.0" : version.Split('+')[0];
    }
}
