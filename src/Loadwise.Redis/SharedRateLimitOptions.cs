namespace Loadwise.Redis;

/// <summary>Settings for <see cref="SharedRateLimit{TKey}"/>.</summary>
/// <example>
/// <code>
/// var options = new SharedRateLimitOptions { Name = "clients", PermitsPerWindow = 100, SyncInterval = TimeSpan.FromMilliseconds(100) };
/// </code>
/// </example>
public sealed class SharedRateLimitOptions
{
    /// <summary>Gets the limit's name in Redis: instances with the same name, key prefix and Redis share it. Defaults to <c>rate</c>.</summary>
    /// <example><code>var options = new SharedRateLimitOptions { Name = "api-clients" };</code></example>
    public string Name { get; init; } = "rate";

    /// <summary>Gets how many requests one key may make per window across the fleet. Defaults to 100; at least 1.</summary>
    /// <example><code>var options = new SharedRateLimitOptions { PermitsPerWindow = 50 };</code></example>
    public int PermitsPerWindow { get; init; } = 100;

    /// <summary>Gets the window's length, on Redis's clock. Defaults to one second; from 100 ms to one hour.</summary>
    /// <example><code>var options = new SharedRateLimitOptions { Window = TimeSpan.FromMinutes(1) };</code></example>
    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets how often an instance sends its counts and learns the fleet's. Shorter: a key served by one instance reaches its
    /// whole limit sooner; longer: fewer Redis calls. Defaults to 100 ms; from 10 ms to a quarter of the window.
    /// </summary>
    /// <example><code>var options = new SharedRateLimitOptions { SyncInterval = TimeSpan.FromMilliseconds(50) };</code></example>
    public TimeSpan SyncInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Throws when a setting is out of range; the message names it and the fix.</summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    /// <example><code>options.Validate();</code></example>
    public void Validate()
    {
        if (string.IsNullOrEmpty(Name) || Name.AsSpan().IndexOfAny('{', '}') >= 0)
        {
            throw new ArgumentException($"SharedRateLimitOptions.Name: got '{Name}', expected a non-empty name without '{{' or '}}' such as clients.", nameof(Name));
        }

        if (PermitsPerWindow < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(PermitsPerWindow), PermitsPerWindow, "SharedRateLimitOptions.PermitsPerWindow must be at least 1.");
        }

        if (Window < TimeSpan.FromMilliseconds(100) || Window > TimeSpan.FromHours(1))
        {
            throw new ArgumentOutOfRangeException(nameof(Window), Window, "SharedRateLimitOptions.Window must be from 100 ms to one hour.");
        }

        if (SyncInterval < TimeSpan.FromMilliseconds(10) || SyncInterval > Window / 4)
        {
            throw new ArgumentOutOfRangeException(nameof(SyncInterval), SyncInterval, "SharedRateLimitOptions.SyncInterval must be from 10 ms to a quarter of the window.");
        }
    }
}
