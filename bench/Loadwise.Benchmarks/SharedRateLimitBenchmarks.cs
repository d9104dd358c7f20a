using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using Loadwise.Redis;

namespace Loadwise.Benchmarks;

/// <summary>
/// A per-client admission through <see cref="SharedRateLimit{TKey}"/> (decided locally; the sync loop runs beside it)
/// against the local token bucket the proxy uses without sharing. 1,024 clients, limits never reached.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class SharedRateLimitBenchmarks
{
    private const int Clients = 1_024;
    private BenchRedisServer _server = null!;
    private RedisStateConnection _connection = null!;
    private SharedRateLimit<UInt128> _shared = null!;
    private PartitionedRateLimiter<UInt128> _local = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _server = new BenchRedisServer();
        _connection = RedisStateConnection.Connect(new RedisStateOptions { Configuration = _server.Configuration, KeyPrefix = "bench:", OperationTimeout = TimeSpan.FromSeconds(5) });
        _shared = new SharedRateLimit<UInt128>(_connection, new SharedRateLimitOptions { Name = "bench", PermitsPerWindow = int.MaxValue / 2 });
        var bucket = new TokenBucketRateLimiterOptions
        {
            TokenLimit = int.MaxValue / 2,
            TokensPerPeriod = int.MaxValue / 2,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = false,
        };
        _local = PartitionedRateLimiter.Create<UInt128, UInt128>(key => RateLimitPartition.Get(key, _ => new TokenBucketRateLimiter(bucket)));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _shared.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _local.Dispose();
        _connection.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.Dispose();
    }

    [Benchmark(Baseline = true, Description = "local token bucket (proxy, unshared)")]
    public bool Local()
    {
        using RateLimitLease lease = _local.AttemptAcquire(NextClient());
        return lease.IsAcquired;
    }

    [Benchmark(Description = "SharedRateLimit.TryAcquire (fleet, through Redis)")]
    public bool Shared() => _shared.TryAcquire(NextClient(), out _);

    private UInt128 NextClient() => (UInt128)(uint)(_next = (_next + 1) & (Clients - 1));
}
