namespace Loadwise.AotProxy.RateLimiting;

/// <summary>
/// A per-client limit that several proxies share (<c>RateLimiting:Shared</c>, through Redis), in place of each proxy's
/// own bucket. It decides locally and never waits on Redis.
/// </summary>
/// <example><code>
/// if (!fleet.TryAcquire(clientKey, out int retryAfterSeconds)) { /* 429 with Retry-After */ }
/// </code></example>
internal interface IFleetRateLimit : IAsyncDisposable
{
    /// <summary>Takes one permit of the fleet's for <paramref name="client"/>; false with the wait in whole seconds when none is left.</summary>
    bool TryAcquire(UInt128 client, out int retryAfterSeconds);
}
