using Grpc.Net.Client.Balancer;
using Microsoft.Extensions.DependencyInjection;

namespace Loadwise.Grpc.Tests;

public sealed class ConfigTests
{
    [Fact]
    public void One_extension_registers_a_factory_per_policy()
    {
        using ServiceProvider services = new ServiceCollection().AddLoadwiseGrpcBalancers().BuildServiceProvider();

        string[] names = [.. services.GetServices<LoadBalancerFactory>().Select(f => f.Name)];

        Assert.Equal(
            ["loadwise_round_robin", "loadwise_p2c", "loadwise_least_request", "loadwise_weighted_least_request", "loadwise_wrr", "loadwise_ring_hash", "loadwise_maglev"],
            names);
    }

    [Fact]
    public void Registering_twice_adds_each_factory_once()
    {
        using ServiceProvider services = new ServiceCollection().AddLoadwiseGrpcBalancers().AddLoadwiseGrpcBalancers().BuildServiceProvider();

        Assert.Equal(LoadwisePolicies.Names.Count, services.GetServices<LoadBalancerFactory>().Count());
    }

    [Theory]
    [InlineData("loadwise_round_robin", "RoundRobin")]
    [InlineData("loadwise_p2c", "PowerOfTwoChoices")]
    [InlineData("loadwise_least_request", "LeastLoad")]
    [InlineData("loadwise_wrr", "WeightedRoundRobin")]
    [InlineData("loadwise_ring_hash", "ConsistentHash")]
    [InlineData("loadwise_maglev", "Maglev")]
    public void Each_policy_is_a_core_strategy(string policy, string strategy) =>
        Assert.Equal(strategy, LoadwisePolicies.StrategyOf(policy));

    [Fact]
    public void A_hashing_policy_without_a_header_names_the_key()
    {
        string problem = Assert.Single(new LoadwiseBalancingConfig(LoadwisePolicies.Maglev).Validate());

        Assert.StartsWith("loadwise_maglev:hashHeader: missing", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_values_are_reported_by_key()
    {
        var config = new LoadwiseBalancingConfig(LoadwisePolicies.RingHash)
        {
            HashHeader = "Player-Id",
            Fallback = "Maglev",
            VirtualNodes = 0,
            FailureThreshold = 0,
            ProbeIntervalSeconds = -1,
        };

        IReadOnlyList<string> problems = config.Validate();

        Assert.Contains(problems, p => p.StartsWith("loadwise_ring_hash:hashHeader: got 'Player-Id'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("loadwise_ring_hash:fallback: got 'Maglev'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("loadwise_ring_hash:virtualNodes: got 0", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("loadwise_ring_hash:failureThreshold:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("loadwise_ring_hash:probeIntervalSeconds:", StringComparison.Ordinal));
        Assert.Equal(5, problems.Count);
    }

    [Fact]
    public void Unknown_keys_and_a_header_on_a_keyless_policy_are_reported()
    {
        var config = new LoadwiseBalancingConfig(LoadwisePolicies.PowerOfTwoChoices) { HashHeader = "player-id" };
        config.Inner[config.PolicyName] = new Dictionary<string, object> { ["hashHeader"] = "player-id", ["choiceCount"] = 2 };

        IReadOnlyList<string> problems = config.Validate();

        Assert.Contains(problems, p => p.StartsWith("loadwise_p2c:choiceCount: unknown key", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("loadwise_p2c:hashHeader: loadwise_p2c does not hash", StringComparison.Ordinal));
    }

    [Fact]
    public void Json_shaped_values_are_accepted()
    {
        // A resolver's JSON service config gives numbers as doubles.
        var configuration = new Dictionary<string, object> { ["hashHeader"] = "room", ["virtualNodes"] = 200.0, ["failureThreshold"] = 5.0, ["healthEnabled"] = false };

        Assert.Empty(LoadwiseBalancerSettings.Parse(LoadwisePolicies.RingHash, configuration, out LoadwiseBalancerSettings? settings));
        Assert.Equal(200, settings!.Options.Strategy.VirtualNodes);
        Assert.Equal(5, settings.Options.Health.FailureThreshold);
        Assert.False(settings.Options.Health.Enabled);
        Assert.Equal("room", settings.HashHeader);
    }

    [Fact]
    public void The_factory_throws_the_same_messages_when_gRPC_creates_the_balancer()
    {
        var factory = new LoadwiseBalancerFactory(LoadwisePolicies.RingHash);

        var error = Assert.Throws<ArgumentException>(() => factory.Create(new global::Grpc.Net.Client.Balancer.LoadBalancerOptions(null!, null!, new Dictionary<string, object>())));

        Assert.Contains("loadwise_ring_hash:hashHeader: missing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_policy_name_lists_the_known_ones()
    {
        var error = Assert.Throws<ArgumentException>(() => new LoadwiseBalancerFactory("loadwise_fastest"));

        Assert.Contains("loadwise_round_robin, loadwise_p2c", error.Message, StringComparison.Ordinal);
    }
}
