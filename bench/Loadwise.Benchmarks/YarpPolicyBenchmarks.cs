using BenchmarkDotNet.Attributes;
using Loadwise.Yarp;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;

namespace Loadwise.Benchmarks;

/// <summary>
/// One YARP load-balancing pick per operation, as YARP's load-balancing step makes it (<c>PickDestination</c> with the
/// cluster's available destinations): YARP's own RoundRobin (baseline) against Loadwise.WeightedRoundRobin with equal
/// and with unequal weights, and Loadwise.Maglev keyed by a header. Both kinds of policy are resolved from the same
/// service provider that <c>AddReverseProxy().AddLoadwisePolicies()</c> fills.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class YarpPolicyBenchmarks
{
    private const int Ops = 1024;
    private ServiceProvider? _services;
    private ILoadBalancingPolicy _yarpRoundRobin = null!;
    private ILoadBalancingPolicy _weightedRoundRobin = null!;
    private ILoadBalancingPolicy _maglev = null!;
    private ClusterState _equal = null!;
    private ClusterState _weighted = null!;
    private DefaultHttpContext _context = null!;

    [Params(3, 16)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddReverseProxy().AddLoadwisePolicies();
        _services = services.BuildServiceProvider();
        ILoadBalancingPolicy[] policies = [.. _services.GetServices<ILoadBalancingPolicy>()];
        _yarpRoundRobin = policies.Single(p => p.Name == LoadBalancingPolicies.RoundRobin);
        _weightedRoundRobin = policies.Single(p => p.Name == LoadwisePolicies.WeightedRoundRobin);
        _maglev = policies.Single(p => p.Name == LoadwisePolicies.Maglev);
        _equal = Cluster(N, static _ => 1);
        _weighted = Cluster(N, static i => 1 + (i % 4));
        _context = new DefaultHttpContext();
        _context.Request.Headers["X-Player"] = "player-42";
        YarpRoundRobin();
        LoadwiseWeightedRoundRobinEqualWeights(); // builds the sequences and the table outside the timing
        LoadwiseWeightedRoundRobinWeights1To4();
        LoadwiseMaglevByHeader();
    }

    [GlobalCleanup]
    public void Cleanup() => _services?.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public int YarpRoundRobin() => Run(_yarpRoundRobin, _equal);

    [Benchmark(OperationsPerInvoke = Ops)]
    public int LoadwiseWeightedRoundRobinEqualWeights() => Run(_weightedRoundRobin, _equal);

    [Benchmark(OperationsPerInvoke = Ops)]
    public int LoadwiseWeightedRoundRobinWeights1To4() => Run(_weightedRoundRobin, _weighted);

    [Benchmark(OperationsPerInvoke = Ops)]
    public int LoadwiseMaglevByHeader() => Run(_maglev, _equal);

    private int Run(ILoadBalancingPolicy policy, ClusterState cluster)
    {
        IReadOnlyList<DestinationState> available = cluster.DestinationsState.AvailableDestinations;
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            sum += policy.PickDestination(_context, cluster, available)!.DestinationId.Length;
        }

        return sum;
    }

    private static ClusterState Cluster(int count, Func<int, int> weight)
    {
        var config = new ClusterConfig
        {
            ClusterId = "bench",
            Metadata = new Dictionary<string, string> { [LoadwiseMetadata.HashKey] = "header:X-Player" },
        };
        var cluster = new ClusterState("bench", new ClusterModel(config, new HttpMessageInvoker(new SocketsHttpHandler())));
        var destinations = new DestinationState[count];
        for (int i = 0; i < count; i++)
        {
            var metadata = new Dictionary<string, string> { [LoadwiseMetadata.Weight] = weight(i).ToString(System.Globalization.CultureInfo.InvariantCulture) };
            destinations[i] = new DestinationState("d" + i, new DestinationModel(new DestinationConfig { Address = $"http://10.0.0.{i}/", Metadata = metadata }));
            cluster.Destinations[destinations[i].DestinationId] = destinations[i];
        }

        cluster.DestinationsState = new ClusterDestinationsState(destinations, destinations);
        return cluster;
    }
}
