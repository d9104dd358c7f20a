using BenchmarkDotNet.Attributes;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Health;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Downstream;
using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Router;

namespace Loadwise.Benchmarks;

/// <summary>
/// The proxy's pick path exactly as the forwarder runs it: the hash key read from a request header, Core's health
/// filter, and the configured strategy (ConsistentHash by header, round robin for keyless requests), for 3 and 64
/// backends, with every backend healthy or one ejected. Target: &lt;= 200 ns, 0 B.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class ProxyPickBenchmarks
{
    private BackendNode[] _nodes = [];
    private BackendHealth _health = null!;
    private ISelectionStrategy<BackendNode> _strategy = null!;
    private HashKeySource _hashKey = null!;
    private DefaultHttpContext _request = null!;

    [Params(3, 64)]
    public int Backends { get; set; }

    [Params(false, true)]
    public bool OneEjected { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var backends = Enumerable.Range(0, Backends)
            .Select(i => new Backend($"app-{i}", new Uri($"http://127.0.0.1:{9000 + i}"), weight: 1, capacity: 0))
            .ToArray();
        _health = new BackendHealth(backends, new HealthCheckOptions(), NoOpMetricsCollector.Instance, NullLogger.Instance);
        if (OneEjected)
        {
            for (int i = 0; i < 5; i++)
            {
                _health.Tracker.ReportFailure(backends[1].Id);
            }
        }

        _nodes = backends.Select(b => new BackendNode(b)).ToArray();
        var options = new StrategyOptions { Name = "ConsistentHash", Fallback = "RoundRobin" };
        _strategy = StrategyFactory.Create(options, Backends, TimeProvider.System).Strategy;
        _hashKey = new HashKeySource(HashKeyKind.Header, "X-User-Id", new ForwardedHeaders([]));
        _request = new DefaultHttpContext();
        _request.Request.Headers["X-User-Id"] = "user-4242";
        if (Pick() < 0)
        {
            throw new InvalidOperationException("the benchmark setup picked nothing");
        }
    }

    [Benchmark]
    public int Pick()
    {
        bool hasKey = _hashKey.TryGetKey(new KestrelExchange(_request), out ulong key);
        var context = hasKey ? new SelectionContext { HashKey = key } : default;
        return Filter.TrySelect(_nodes, in context, _health.Filter, _strategy, out int index) ? index : -1;
    }
}
