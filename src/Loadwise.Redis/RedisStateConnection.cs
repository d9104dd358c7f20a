using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Loadwise.Redis;

/// <summary>
/// The one Redis connection that a process's <see cref="RedisStateStore"/>, <see cref="SharedHealth{TId}"/> and
/// <see cref="SharedQuota{TId}"/> share: a single <see cref="ConnectionMultiplexer"/> (commands from every thread are
/// pipelined on it), and the outage state that lets them fall back without waiting.
/// </summary>
/// <remarks>
/// <para>
/// The multiplexer is made with <c>AbortOnConnectFail=false</c>, so a process starts while Redis is down and connects
/// when it comes. A call that fails, or takes longer than <see cref="RedisStateOptions.OperationTimeout"/>, is counted on
/// <c>loadwise.state_store.errors</c> (meter <see cref="MeterName"/>; <c>loadwise_state_store_errors_total</c> in
/// Prometheus) and marks Redis as out: one warning is logged, <see cref="IsAvailable"/> turns false (callers then fall
/// back at once), and Redis is pinged every <see cref="RedisStateOptions.RetryInterval"/>. The first ping that answers
/// logs one recovery line and raises <see cref="Recovered"/>, on which shared state is reconciled.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// await using var connection = RedisStateConnection.Connect(new RedisStateOptions { Configuration = "127.0.0.1:6379" });
/// var store = new RedisStateStore(connection);
/// </code>
/// </example>
public sealed class RedisStateConnection : IAsyncDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Loadwise.Redis";

    /// <summary>The error counter's name (<c>loadwise_state_store_errors_total</c> in Prometheus).</summary>
    public const string ErrorsName = "loadwise.state_store.errors";

    private readonly IConnectionMultiplexer _multiplexer;
    private readonly bool _ownsMultiplexer;
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _errors;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private Task _retryLoop = Task.CompletedTask;
    private long _outSince;
    private int _out;

    /// <summary>Uses an existing multiplexer (for example the application's own); it is not disposed with this object.</summary>
    /// <param name="multiplexer">The multiplexer; make it with <c>AbortOnConnectFail=false</c>.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">A setting is unusable; the message names it.</exception>
    /// <example><code>var connection = new RedisStateConnection(app.Multiplexer, new RedisStateOptions { KeyPrefix = "lw:" });</code></example>
    public RedisStateConnection(IConnectionMultiplexer multiplexer, RedisStateOptions? options = null)
        : this(multiplexer, options ?? new RedisStateOptions(), ownsMultiplexer: false)
    {
    }

    private RedisStateConnection(IConnectionMultiplexer multiplexer, RedisStateOptions options, bool ownsMultiplexer)
    {
        ArgumentNullException.ThrowIfNull(multiplexer);
        options.Validate();
        Options = options;
        _multiplexer = multiplexer;
        _ownsMultiplexer = ownsMultiplexer;
        _ownsMeter = options.MeterFactory is null;
        _meter = options.MeterFactory is null ? new Meter(MeterName) : options.MeterFactory.Create(new MeterOptions(MeterName));
        _errors = _meter.CreateCounter<long>(ErrorsName, unit: "{error}", description: "Redis state-store operations that failed or timed out.");
        Keys = new RedisStateKeys(options.KeyPrefix);
        _multiplexer.ConnectionFailed += OnConnectionFailed;
        if (!_multiplexer.IsConnected)
        {
            MarkOut("connect", new InvalidOperationException("Redis was not reachable at start."));
        }
    }

    /// <summary>Raised (on a thread-pool thread) when Redis answers again after an outage; shared state reconciles on it.</summary>
    /// <example><code>connection.Recovered += () => Console.WriteLine("redis back");</code></example>
    public event Action? Recovered;

    /// <summary>Gets the settings.</summary>
    /// <example><code>string prefix = connection.Options.KeyPrefix;</code></example>
    public RedisStateOptions Options { get; }

    /// <summary>Gets whether Redis is taken as reachable: false from the first failed call until a ping answers.</summary>
    /// <example><code>if (!connection.IsAvailable) { /* fall back */ }</code></example>
    public bool IsAvailable => Volatile.Read(ref _out) == 0;

    /// <summary>Gets the multiplexer.</summary>
    /// <example><code>IDatabase db = connection.Multiplexer.GetDatabase();</code></example>
    public IConnectionMultiplexer Multiplexer => _multiplexer;

    internal RedisStateKeys Keys { get; }

    internal IDatabase Database => _multiplexer.GetDatabase();

    /// <summary>Connects (without waiting for Redis to be up: <c>AbortOnConnectFail=false</c>) and owns the multiplexer.</summary>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <returns>The connection; dispose it to close the multiplexer.</returns>
    /// <exception cref="ArgumentException">A setting is unusable; the message names it.</exception>
    /// <example><code>await using var connection = RedisStateConnection.Connect(new RedisStateOptions { Configuration = "127.0.0.1:6379" });</code></example>
    public static RedisStateConnection Connect(RedisStateOptions? options = null)
    {
        options ??= new RedisStateOptions();
        options.Validate();
        ConfigurationOptions configuration = ConfigurationOptions.Parse(options.Configuration);
        configuration.AbortOnConnectFail = false;
        configuration.ConnectTimeout = Math.Min(configuration.ConnectTimeout, 2000);
        ConnectionMultiplexer multiplexer = ConnectionMultiplexer.Connect(configuration);
        return new RedisStateConnection(multiplexer, options, ownsMultiplexer: true);
    }

    /// <summary>Stops the retry loop and closes the multiplexer when this object opened it.</summary>
    /// <returns>A task that completes when closed.</returns>
    /// <example><code>await connection.DisposeAsync();</code></example>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        _stopping.Cancel();
        _multiplexer.ConnectionFailed -= OnConnectionFailed;
        try
        {
            await _retryLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The loop ends by cancellation.
        }

        if (_ownsMultiplexer)
        {
            await _multiplexer.CloseAsync(allowCommandsToComplete: false).ConfigureAwait(false);
            _multiplexer.Dispose();
        }

        if (_ownsMeter)
        {
            _meter.Dispose();
        }

        _stopping.Dispose();
    }

    /// <summary>
    /// Awaits a Redis call for at most <see cref="RedisStateOptions.OperationTimeout"/>; a failure or a timeout is
    /// counted, marks Redis as out, and is thrown.
    /// </summary>
    internal async Task<T> CallAsync<T>(Task<T> call, string operation, string key)
    {
        try
        {
            return await call.WaitAsync(Options.OperationTimeout, Options.TimeProvider).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            ReportError(operation, key, exception);
            throw;
        }
    }

    /// <summary>Counts a failed operation and marks Redis as out.</summary>
    internal void ReportError(string operation, string key, Exception exception)
    {
        _errors.Add(1, new KeyValuePair<string, object?>("operation", operation));
        MarkOut(operation + " " + key, exception);
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Interactive)
        {
            ReportError("connect", e.EndPoint?.ToString() ?? "", e.Exception ?? new InvalidOperationException("Connection failed: " + e.FailureType));
        }
    }

    private void MarkOut(string what, Exception exception)
    {
        if (Interlocked.Exchange(ref _out, 1) != 0)
        {
            return;
        }

        Volatile.Write(ref _outSince, Options.TimeProvider.GetTimestamp());
        Options.Logger?.LogWarning(
            "Redis state store unreachable ({What}: {Error}); health falls back to this instance's own view and quotas to their outage policy until it answers again",
            what,
            exception.Message);
        lock (_gate)
        {
            if (!_stopping.IsCancellationRequested)
            {
                _retryLoop = Task.Run(RetryUntilAnsweredAsync);
            }
        }
    }

    private async Task RetryUntilAnsweredAsync()
    {
        CancellationToken stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            await Task.Delay(Options.RetryInterval, Options.TimeProvider, stopping).ConfigureAwait(false);
            try
            {
                await Database.PingAsync().WaitAsync(Options.OperationTimeout, Options.TimeProvider, stopping).ConfigureAwait(false);
            }
            catch (Exception) when (!stopping.IsCancellationRequested)
            {
                continue; // still out; the outage was logged once
            }

            TimeSpan down = Options.TimeProvider.GetElapsedTime(Volatile.Read(ref _outSince));
            Volatile.Write(ref _out, 0);
            Options.Logger?.LogInformation("Redis state store answers again after {Seconds:0.0} s out; reconciling shared state", down.TotalSeconds);
            Recovered?.Invoke();
            return;
        }
    }
}
