using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace Loadwise.Redis;

/// <summary>
/// Settings for a <see cref="RedisStateConnection"/>: where Redis is, how keys are named, and how an outage is detected
/// and left. Every property but <see cref="Configuration"/> has a working default.
/// </summary>
/// <example>
/// <code>
/// var options = new RedisStateOptions { Configuration = "127.0.0.1:6379", KeyPrefix = "lw:" };
/// await using var connection = RedisStateConnection.Connect(options);
/// </code>
/// </example>
public sealed class RedisStateOptions
{
    /// <summary>Gets the StackExchange.Redis configuration string, for example <c>"127.0.0.1:6379"</c> or <c>"redis-a:6379,redis-b:6379,password=..."</c>.</summary>
    /// <example><code>var options = new RedisStateOptions { Configuration = "127.0.0.1:6379" };</code></example>
    public string Configuration { get; init; } = "127.0.0.1:6379";

    /// <summary>Gets the prefix of every key and channel written; one per fleet when fleets share a Redis. Defaults to <c>"lw:"</c>.</summary>
    /// <example><code>var options = new RedisStateOptions { KeyPrefix = "checkout-proxies:" };</code></example>
    public string KeyPrefix { get; init; } = "lw:";

    /// <summary>
    /// Gets this instance's id, written with each state (the merge's last key and the owner of quorum votes). Defaults
    /// to the host name, the process id and a random suffix; set a stable one to keep votes across restarts.
    /// </summary>
    /// <example><code>var options = new RedisStateOptions { InstanceId = "proxy-a" };</code></example>
    public string InstanceId { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>
    /// Gets how long a state or quota call may wait for Redis before it is counted as an error and the connection is
    /// taken as out (later calls then fall back at once, without waiting). Defaults to 250 ms.
    /// </summary>
    /// <example><code>var options = new RedisStateOptions { OperationTimeout = TimeSpan.FromMilliseconds(100) };</code></example>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Gets how often Redis is pinged while it is out, to notice the recovery. Defaults to 250 ms.</summary>
    /// <example><code>var options = new RedisStateOptions { RetryInterval = TimeSpan.FromSeconds(1) };</code></example>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Gets the logger for the outage and recovery lines (one each per outage); null for none.</summary>
    /// <example><code>var options = new RedisStateOptions { Logger = loggerFactory.CreateLogger("Loadwise.Redis") };</code></example>
    public ILogger? Logger { get; init; }

    /// <summary>Gets the meter factory for the <c>loadwise.state_store.errors</c> counter; null to create a plain meter.</summary>
    /// <example><code>var options = new RedisStateOptions { MeterFactory = services.GetService&lt;IMeterFactory&gt;() };</code></example>
    public IMeterFactory? MeterFactory { get; init; }

    /// <summary>Gets the clock for timeouts, retries and reconciles; defaults to <see cref="TimeProvider.System"/>.</summary>
    /// <example><code>var options = new RedisStateOptions { TimeProvider = fakeTime };</code></example>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Throws when a setting is unusable; the message names the setting and the fix.</summary>
    /// <exception cref="ArgumentException">A setting is null, empty or out of range.</exception>
    /// <example><code>options.Validate();</code></example>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Configuration))
        {
            throw new ArgumentException("RedisStateOptions.Configuration must name a server, for example \"127.0.0.1:6379\".", nameof(Configuration));
        }

        if (KeyPrefix is null || KeyPrefix.AsSpan().IndexOfAny('{', '}') >= 0)
        {
            throw new ArgumentException("RedisStateOptions.KeyPrefix must not be null nor contain '{' or '}' (the keys' hash tags use them); for example \"lw:\".", nameof(KeyPrefix));
        }

        if (string.IsNullOrEmpty(InstanceId))
        {
            throw new ArgumentException("RedisStateOptions.InstanceId must not be empty; leave it unset for a generated one.", nameof(InstanceId));
        }

        if (OperationTimeout <= TimeSpan.Zero || RetryInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(OperationTimeout), "RedisStateOptions.OperationTimeout and RetryInterval must be more than zero (250 ms each by default).");
        }

        if (TimeProvider is null)
        {
            throw new ArgumentException("RedisStateOptions.TimeProvider must not be null; leave it unset for the system clock.", nameof(TimeProvider));
        }
    }
}
