using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Http;

namespace Loadwise.AotProxy.RateLimiting;

/// <summary>
/// A token bucket per client: <see cref="PartitionedRateLimiter"/> over <see cref="TokenBucketRateLimiter"/>s, keyed by
/// the client address as a 128-bit number (IPv4 in its IPv4-mapped form, IPv6 cut to its configured prefix, since one
/// subscriber holds a whole /64). The client is the connection's peer unless the peer is a trusted proxy (then the
/// rightmost untrusted X-Forwarded-For address), so an untrusted client cannot change buckets with a forged header.
/// The partitioned limiter replenishes every bucket from one timer and disposes buckets that have been full (idle)
/// for 10 s, so memory follows the clients seen in the last few seconds, not all clients ever seen. With a fleet limit
/// (<c>RateLimiting:Shared</c>) the fleet's one-second windows replace the bucket: two limits in a row would each spend
/// permits on requests the other refuses.
/// </summary>
internal sealed class ClientRateLimiter : IAsyncDisposable
{
    private readonly PartitionedRateLimiter<UInt128>? _limiter; // none with a fleet limit, which replaces it
    private readonly ForwardedHeaders _forwarded;
    private readonly UInt128 _ipv6Mask;
    private readonly IFleetRateLimit? _fleet;

    public ClientRateLimiter(RateLimitingOptions options, ForwardedHeaders forwarded, IFleetRateLimit? fleet = null)
    {
        _forwarded = forwarded;
        _fleet = fleet;
        int prefix = options.IPv6PrefixLength;
        _ipv6Mask = prefix >= 128 ? UInt128.MaxValue : ~(UInt128.MaxValue >> prefix);
        if (fleet is not null)
        {
            return;
        }

        var bucket = new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.Burst,
            TokensPerPeriod = options.TokensPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            // The partitioned limiter replenishes all buckets from its own timer; one timer per client would not scale.
            AutoReplenishment = false,
        };
        Func<UInt128, RateLimiter> create = _ => new TokenBucketRateLimiter(bucket);
        _limiter = PartitionedRateLimiter.Create<UInt128, UInt128>(key => RateLimitPartition.Get(key, create));
    }

    /// <summary>Takes one token from the request's client; false (with the wait in whole seconds) when it has none.</summary>
    public bool TryAcquire<TRequest>(TRequest request, out int retryAfterSeconds)
        where TRequest : IClientRequest
    {
        IPAddress? peer = request.Peer;
        return TryAcquire(ClientKey(peer, _forwarded.IsTrusted(peer) ? request.Header(ForwardedHeaders.ForwardedFor) : default), out retryAfterSeconds);
    }

    /// <summary>
    /// The bucket key of a request from <paramref name="peer"/>: the peer's own unless the peer is a trusted proxy, then
    /// that of the rightmost untrusted address in <paramref name="forwardedFor"/> (only read for a trusted peer).
    /// </summary>
    public UInt128 ClientKey(IPAddress? peer, ReadOnlySpan<char> forwardedFor) =>
        KeyOf(_forwarded.IsTrusted(peer) ? _forwarded.ResolveClient(peer, forwardedFor) : peer);

    /// <summary>Takes one token from the bucket of <paramref name="key"/>.</summary>
    public bool TryAcquire(UInt128 key, out int retryAfterSeconds)
    {
        if (_fleet is not null)
        {
            return _fleet.TryAcquire(key, out retryAfterSeconds);
        }

        using RateLimitLease lease = _limiter!.AttemptAcquire(key);
        if (lease.IsAcquired)
        {
            retryAfterSeconds = 0;
            return true;
        }

        retryAfterSeconds = lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
        return false;
    }

    /// <summary>The bucket key of an address: IPv4 (or IPv4-mapped) as <c>::ffff:a.b.c.d</c>, IPv6 masked to the prefix; 0 for none.</summary>
    public UInt128 KeyOf(IPAddress? address)
    {
        if (address is null)
        {
            return UInt128.Zero;
        }

        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int written))
        {
            return UInt128.Zero;
        }

        if (written == 4)
        {
            return new UInt128(0, 0xFFFF_0000_0000UL | BinaryPrimitives.ReadUInt32BigEndian(bytes));
        }

        UInt128 value = BinaryPrimitives.ReadUInt128BigEndian(bytes);
        bool mapped = address.AddressFamily == AddressFamily.InterNetworkV6 && (value >> 32) == 0xFFFF;
        return mapped ? value : value & _ipv6Mask;
    }

    public async ValueTask DisposeAsync()
    {
        _limiter?.Dispose();
        if (_fleet is not null)
        {
            await _fleet.DisposeAsync().ConfigureAwait(false);
        }
    }
}
