using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Loadwise.Redis;
using StackExchange.Redis;

namespace Loadwise.Benchmarks;

/// <summary>A redis-server on a free 127.0.0.1 port, with no persistence, for the benchmarks' lifetime.</summary>
internal sealed class BenchRedisServer : IDisposable
{
    private readonly Process _process;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "loadwise-bench-redis-" + Guid.NewGuid().ToString("N")[..8]);

    public BenchRedisServer()
    {
        Directory.CreateDirectory(_directory);
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var start = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (string argument in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", _directory, "--save", "", "--appendonly", "no" })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start (apt-get install redis-server)");
        _process.BeginOutputReadLine();
        for (int i = 0; ; i++)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (i < 500)
            {
                Thread.Sleep(20);
            }
        }
    }

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}";

    public void Dispose()
    {
        _process.Kill();
        _process.WaitForExit();
        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>A pick with health shared through Redis costs what a local pick does: it reads the same local tracker.</summary>
[MemoryDiagnoser]
[MedianColumn]
public class SharedHealthPickBenchmarks
{
    private BenchRedisServer _server = null!;
    private RedisStateConnection _connection = null!;
    private SharedHealth<string> _shared = null!;
    private HealthBenchNode[] _nodes = null!;
    private FilteredStrategy<HealthBenchNode, HealthFilter<HealthBenchNode, string, NodeAccessor<HealthBenchNode, string>>, PowerOfTwoChoices<HealthBenchNode, LoadAccessor<HealthBenchNode>>> _local = null!;
    private FilteredStrategy<HealthBenchNode, HealthFilter<HealthBenchNode, string, NodeAccessor<HealthBenchNode, string>>, PowerOfTwoChoices<HealthBenchNode, LoadAccessor<HealthBenchNode>>> _sharedPick = null!;
    private FilteredStrategy<HealthBenchNode, HealthFilter<HealthBenchNode, string, NodeAccessor<HealthBenchNode, string>>, PowerOfTwoChoices<HealthBenchNode, LoadAccessor<HealthBenchNode>>> _localAgain = null!;

    [GlobalSetup]
    public void Setup()
    {
        _server = new BenchRedisServer();
        _connection = RedisStateConnection.Connect(new RedisStateOptions { Configuration = _server.Configuration, KeyPrefix = "bench:" });
        var store = new RedisStateStore(_connection);
        var sharedTracker = new HealthTracker<string>(new HealthTrackerOptions { StateStore = store });
        var localTracker = new HealthTracker<string>();
        var secondLocalTracker = new HealthTracker<string>();
        _nodes = new HealthBenchNode[16];
        for (int i = 0; i < _nodes.Length; i++)
        {
            _nodes[i] = new HealthBenchNode($"10.0.0.{i}:8080", 1 + (i % 5));
        }

        foreach (HealthTracker<string> tracker in new[] { sharedTracker, localTracker, secondLocalTracker })
        {
            foreach (HealthBenchNode node in _nodes)
            {
                tracker.GetHandle(node.Id);
            }

            for (int i = 0; i < 5; i++)
            {
                tracker.ReportFailure(_nodes[3].Id);
            }
        }

        _shared = SharedHealth.StartAsync(sharedTracker, store).GetAwaiter().GetResult();
        sharedTracker.FlushAsync().GetAwaiter().GetResult();
        _local = new(new HealthFilter<HealthBenchNode, string, NodeAccessor<HealthBenchNode, string>>(localTracker), PowerOfTwoChoices.For<HealthBenchNode>());
        _sharedPick = new(new HealthFilter<HealthBenchNode, string, NodeAccessor<HealthBenchNode, string>>(sharedTracker), PowerOfTwoChoices.For<HealthBenchNode>());
        _localAgain = new(new HealthFilter<HealthBenchNode, string, NodeAccessor<HealthBenchNode, string>>(secondLocalTracker), PowerOfTwoChoices.For<HealthBenchNode>());
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _shared.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _connection.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.Dispose();
    }

    [Benchmark(Baseline = true, Description = "HealthFilter + P2C, 16 nodes, local tracker")]
    public int LocalPick()
    {
        _local.TrySelect(_nodes, SelectionContext.Empty, out int index);
        return index;
    }

    /// <summary>The local pick again (a second tracker, the same setup): how far two identical runs differ on this machine.</summary>
    [Benchmark(Description = "HealthFilter + P2C, 16 nodes, local tracker (A/A control)")]
    public int LocalAgain()
    {
        _localAgain.TrySelect(_nodes, SelectionContext.Empty, out int index);
        return index;
    }

    [Benchmark(Description = "HealthFilter + P2C, 16 nodes, tracker shared through Redis")]
    public int SharedPick()
    {
        _sharedPick.TrySelect(_nodes, SelectionContext.Empty, out int index);
        return index;
    }
}

/// <summary>
/// Quota check and charge through Redis: one caller at a time (latency) and 64 at once on one connection (requests/s
/// per instance, pipelined), exact and leased, against the floor: INCRBY + EXPIRE sent together, one round trip.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class SharedQuotaBenchmarks
{
    private const int Concurrent = 64;
    private BenchRedisServer _server = null!;
    private RedisStateConnection _connection = null!;
    private IDatabase _database = null!;
    private SharedQuota<string> _exact = null!;
    private SharedQuota<string> _leased = null!;
    private readonly Task[] _tasks = new Task[Concurrent];

    [GlobalSetup]
    public void Setup()
    {
        _server = new BenchRedisServer();
        _connection = RedisStateConnection.Connect(new RedisStateOptions { Configuration = _server.Configuration, KeyPrefix = "bench:", OperationTimeout = TimeSpan.FromSeconds(5) });
        _database = _connection.Multiplexer.GetDatabase();
        // Limits the benchmark never reaches, so every call is admitted and does the full work.
        QuotaLimit[] limits = [QuotaLimit.RequestsPerMinute(1e12), QuotaLimit.TokensPerMinute(1e15)];
        _exact = new SharedQuota<string>(_connection, limits);
        // A lease of 1e-9 of the limit: 1,000 requests per round trip.
        _leased = new SharedQuota<string>(_connection, limits, new SharedQuotaOptions { LeaseFraction = 1e-9 });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _connection.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.Dispose();
    }

    [Benchmark(Baseline = true, Description = "floor: INCRBY + EXPIRE, one round trip")]
    public async Task<long> Floor()
    {
        Task<long> increment = _database.StringIncrementAsync("bench:floor", 1);
        Task<bool> expire = _database.KeyExpireAsync("bench:floor", TimeSpan.FromMinutes(2));
        await expire.ConfigureAwait(false);
        return await increment.ConfigureAwait(false);
    }

    [Benchmark(Description = "TryChargeAsync, exact (Lua, 2 dimensions)")]
    public async Task<bool> Exact() => (await _exact.TryChargeAsync("provider", 100).ConfigureAwait(false)).Admitted;

    [Benchmark(Description = "TryChargeAsync, leased (1,000 per lease)")]
    public async Task<bool> Leased() => (await _leased.TryChargeAsync("provider", 100).ConfigureAwait(false)).Admitted;

    [Benchmark(OperationsPerInvoke = Concurrent, Description = "floor, 64 concurrent (per op)")]
    public Task FloorConcurrent()
    {
        for (int i = 0; i < Concurrent; i++)
        {
            _tasks[i] = Floor();
        }

        return Task.WhenAll(_tasks);
    }

    [Benchmark(OperationsPerInvoke = Concurrent, Description = "exact, 64 concurrent (per op)")]
    public Task ExactConcurrent()
    {
        for (int i = 0; i < Concurrent; i++)
        {
            _tasks[i] = Exact();
        }

        return Task.WhenAll(_tasks);
    }

    [Benchmark(OperationsPerInvoke = Concurrent, Description = "leased, 64 concurrent (per op)")]
    public Task LeasedConcurrent()
    {
        for (int i = 0; i < Concurrent; i++)
        {
            _tasks[i] = Leased();
        }

        return Task.WhenAll(_tasks);
    }
}
