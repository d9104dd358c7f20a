namespace Loadwise.AotProxy.Logging;

/// <summary>Every log line the proxy writes: one per lifecycle event; per-request lines only at Debug.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "loadwise-proxy {Version} listening on {Listen}; {BackendCount} backends; strategy {Strategy}; metrics at {Metrics}")]
    public static partial void Started(ILogger logger, string version, string listen, int backendCount, string strategy, string metrics);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "demo backends listening on {Urls}")]
    public static partial void DemoBackendsStarted(ILogger logger, string urls);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "drain started: stopped accepting; {InFlight} requests in flight; waiting up to {DrainTimeoutMs} ms")]
    public static partial void DrainStarted(ILogger logger, long inFlight, int drainTimeoutMs);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "drain finished in {ElapsedMs} ms; {InFlight} requests still in flight; exiting")]
    public static partial void DrainFinished(ILogger logger, long elapsedMs, long inFlight);

    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "backend {Backend} failed: {Error}")]
    public static partial void UpstreamFailed(ILogger logger, string backend, string error);

    [LoggerMessage(EventId = 11, Level = LogLevel.Debug, Message = "backend {Backend} sent no response headers in time")]
    public static partial void UpstreamTimeout(ILogger logger, string backend);

    [LoggerMessage(EventId = 5, Message = "backend {Backend} health {From} -> {To}")]
    public static partial void BackendHealthChanged(ILogger logger, LogLevel level, string backend, string from, string to);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "health panic {State}")]
    public static partial void Panic(ILogger logger, string state);

    [LoggerMessage(EventId = 12, Level = LogLevel.Debug, Message = "backend {Backend} failed ({Error}); retrying on another backend")]
    public static partial void Retrying(ILogger logger, string backend, string error);

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "config reloaded ({Trigger}): {Summary}")]
    public static partial void ConfigReloaded(ILogger logger, string trigger, string summary);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "config reload ({Trigger}): {Keys} changed, which takes a restart; the rest of the change applied")]
    public static partial void ConfigNeedsRestart(ILogger logger, string trigger, string keys);

    [LoggerMessage(EventId = 22, Level = LogLevel.Warning, Message = "config reload ({Trigger}) refused, the running configuration stays: config error: {Problem}")]
    public static partial void ConfigReloadRefused(ILogger logger, string trigger, string problem);
}
