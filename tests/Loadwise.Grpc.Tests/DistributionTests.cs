namespace Loadwise.Grpc.Tests;

/// <summary>Each policy's spread over three real servers, calls one at a time.</summary>
[Collection(ServerCollection.Name)]
public sealed class DistributionTests
{
    private const int Calls = 300;

    [Theory]
    [InlineData(LoadwisePolicies.RoundRobin)]
    [InlineData(LoadwisePolicies.LeastRequest)] // sequential calls: all loads 0, ties take turns
    public async Task Turn_taking_policies_give_each_server_a_third(string policy)
    {
        Tally tally = await RunAsync(policy, weights: null);

        Assert.All(["A", "B", "C"], s => Assert.InRange(tally[s], (Calls / 3) - 1, (Calls / 3) + 1));
    }

    [Theory]
    [InlineData(LoadwisePolicies.PowerOfTwoChoices)]
    [InlineData(LoadwisePolicies.WeightedLeastRequest)]
    public async Task Random_sampling_policies_spread_over_every_server(string policy)
    {
        Tally tally = await RunAsync(policy, weights: null);

        // With nothing in flight, two random samples tie and the first wins: about a third each.
        Assert.All(["A", "B", "C"], s => Assert.InRange(tally[s], Calls / 6, Calls / 2));
    }

    [Fact]
    public async Task Weighted_round_robin_follows_the_weight_attribute()
    {
        Tally tally = await RunAsync(LoadwisePolicies.WeightedRoundRobin, weights: [1, 2, 3]);

        // Smooth weighted round robin is exact over whole rounds of 6.
        Assert.Equal(50, tally["A"]);
        Assert.Equal(100, tally["B"]);
        Assert.Equal(150, tally["C"]);
    }

    [Theory]
    [InlineData(LoadwisePolicies.RingHash)]
    [InlineData(LoadwisePolicies.Maglev)]
    public async Task Hashing_policies_spread_distinct_players_over_every_server(string policy)
    {
        await using var servers = await ServerSet.StartAsync(3);
        using TestChannel channel = await TestChannel.CreateAsync(servers.Servers, new LoadwiseBalancingConfig(policy) { HashHeader = "player-id" });
        var tally = new Tally();
        for (int i = 0; i < Calls; i++)
        {
            tally.Add(await channel.JoinAsPlayerAsync("player-id", "player-" + i));
        }

        Assert.All(["A", "B", "C"], s => Assert.InRange(tally[s], Calls / 6, Calls / 2));
    }

    private static async Task<Tally> RunAsync(string policy, int[]? weights)
    {
        await using var servers = await ServerSet.StartAsync(3);
        using TestChannel channel = await TestChannel.CreateAsync(servers.Servers, new LoadwiseBalancingConfig(policy), weights: weights);
        var tally = new Tally();
        for (int i = 0; i < Calls; i++)
        {
            tally.Add(await channel.JoinAsync());
        }

        Assert.Equal(Calls, tally.Total);
        return tally;
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ServerCollection
{
    public const string Name = "real gRPC servers";
}

/// <summary>Three (or n) servers stopped and disposed together.</summary>
internal sealed class ServerSet : IAsyncDisposable
{
    private ServerSet(TestServer[] servers) => Servers = servers;

    public TestServer[] Servers { get; }

    public TestServer this[string name] => Servers.Single(s => s.Name == name);

    public static async Task<ServerSet> StartAsync(int count) => new(await TestServer.StartManyAsync(count));

    public async ValueTask DisposeAsync()
    {
        foreach (TestServer server in Servers)
        {
            await server.DisposeAsync();
        }
    }
}
