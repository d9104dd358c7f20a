using System.Net;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.Health;

/// <summary>
/// Probes every backend with <c>GET {Path}</c> once per interval (shortened by up to the jitter, never lengthened, so
/// that detection time has a bound) and reports each result to the tracker: 2xx or 3xx within the timeout is a
/// success, anything else a failure. With active checks disabled it only lets a backend that passive reports ejected
/// back in, as Recovering, once per interval (where one failed request ejects it again).
/// </summary>
internal sealed class ActiveHealthProber : IAsyncDisposable
{
    private readonly IReadOnlyList<Backend> _backends;
    private readonly BackendHealth _health;
    private readonly HealthCheckOptions _options;
    private readonly HttpMessageInvoker _invoker;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly TimeProvider _time;

    /// <summary>
    /// Creates the prober; <paramref name="time"/> times the intervals and jitter (the system's by default), and
    /// <paramref name="backendTls"/> checks https backends' certificates as requests do (the system's store by default).
    /// </summary>
    public ActiveHealthProber(IReadOnlyList<Backend> backends, BackendHealth health, HealthCheckOptions options, TimeProvider? time = null, System.Net.Security.SslClientAuthenticationOptions? backendTls = null)
    {
        _time = time ?? TimeProvider.System;
        _backends = backends;
        _health = health;
        _options = options;
        _invoker = new HttpMessageInvoker(
            new SocketsHttpHandler
            {
                UseProxy = false,
                AllowAutoRedirect = false,
                AutomaticDecompression = DecompressionMethods.None,
                UseCookies = false,
                ActivityHeadersPropagator = null,
                ConnectTimeout = TimeSpan.FromMilliseconds(options.TimeoutMs),
                PooledConnectionIdleTimeout = TimeSpan.FromMilliseconds(options.IntervalMs * 3L),
                SslOptions = backendTls ?? new System.Net.Security.SslClientAuthenticationOptions(),
            },
            disposeHandler: true);
    }

    public void Start()
    {
        foreach (Backend backend in _backends)
        {
            _loops.Add(_options.Enabled ? ProbeLoopAsync(backend, _stop.Token) : ReadmitLoopAsync(backend, _stop.Token));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping is the expected end of every loop.
        }

        _invoker.Dispose();
        _stop.Dispose();
    }

    private async Task ProbeLoopAsync(Backend backend, CancellationToken stop)
    {
        await Task.Yield();
        var target = new Uri(backend.UrlPrefix + _options.Path);
        long interval = _options.IntervalMs * _time.TimestampFrequency / 1000;
        long jitter = _options.JitterMs * _time.TimestampFrequency / 1000;
        // The first probe comes within the jitter of the start, so a backend that is down at start is found at once.
        long next = _time.GetTimestamp() + (long)(Random.Shared.NextDouble() * jitter);
        while (!stop.IsCancellationRequested)
        {
            TimeSpan wait = _time.GetElapsedTime(_time.GetTimestamp(), next);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, _time, stop).ConfigureAwait(false);
            }

            next = Math.Max(next + interval - (long)(Random.Shared.NextDouble() * jitter), _time.GetTimestamp());
            bool healthy = await ProbeAsync(target, backend.Http2, stop).ConfigureAwait(false);
            if (stop.IsCancellationRequested)
            {
                return;
            }

            _health.Tracker.Report(backend.Id, healthy ? Outcome.Success : Outcome.Failure);
        }
    }

    private async Task<bool> ProbeAsync(Uri target, bool http2, CancellationToken stop)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(_options.TimeoutMs);
        try
        {
            // An Http2 backend is probed as it is reached (an h2c-only one, gRPC's usual, answers nothing else).
            using var request = new HttpRequestMessage(HttpMethod.Get, target)
            {
                Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11,
                VersionPolicy = http2 ? HttpVersionPolicy.RequestVersionExact : HttpVersionPolicy.RequestVersionOrLower,
            };
            using HttpResponseMessage response = await _invoker.SendAsync(request, timeout.Token).ConfigureAwait(false);
            return (int)response.StatusCode is >= 200 and < 400;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    private async Task ReadmitLoopAsync(Backend backend, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(_health.ProbeInterval, _time);
        while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
        {
            // Core's probe clock: true once an Unhealthy backend has had a full interval without an outcome.
            if (_health.Tracker.TryBeginProbe(backend.Id))
            {
                _health.Tracker.Report(backend.Id, Outcome.Success);
            }
        }
    }
}
