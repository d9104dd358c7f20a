namespace Loadwise.Grpc.Tests;

/// <summary>Calls that carry the same metadata value stick to one server; stopping a server moves only its players.</summary>
[Collection(ServerCollection.Name)]
public sealed class StickinessTests
{
    [Theory]
    [InlineData(LoadwisePolicies.RingHash)]
    [InlineData(LoadwisePolicies.Maglev)]
    public async Task Each_player_sticks_to_one_server(string policy)
    {
        await using var servers = await ServerSet.StartAsync(3);
        using TestChannel channel = await TestChannel.CreateAsync(servers.Servers, new LoadwiseBalancingConfig(policy) { HashHeader = "player-id" });
        var homes = new Dictionary<string, HashSet<string>>();
        for (int round = 0; round < 5; round++)
        {
            for (int p = 0; p < 40; p++)
            {
                string player = "p" + p;
                string server = await channel.JoinAsPlayerAsync("player-id", player);
                (homes.TryGetValue(player, out HashSet<string>? seen) ? seen : homes[player] = []).Add(server);
            }
        }

        Assert.All(homes, pair => Assert.True(pair.Value.Count == 1, $"{pair.Key} went to {string.Join(", ", pair.Value)}"));
        Assert.Equal(3, homes.Values.Select(v => v.Single()).Distinct().Count());
    }

    [Fact]
    public async Task Calls_without_the_key_use_the_fallback()
    {
        await using var servers = await ServerSet.StartAsync(3);
        using TestChannel channel = await TestChannel.CreateAsync(servers.Servers, new LoadwiseBalancingConfig(LoadwisePolicies.RingHash) { HashHeader = "player-id" });
        var tally = new Tally();
        for (int i = 0; i < 30; i++)
        {
            tally.Add(await channel.JoinAsync());
        }

        // RoundRobin, the default fallback: the keyless calls do not all land on one point of the ring.
        Assert.All(["A", "B", "C"], s => Assert.Equal(10, tally[s]));
    }

    [Fact]
    public async Task Stopping_a_server_moves_only_its_players()
    {
        await using var servers = await ServerSet.StartAsync(3);
        using TestChannel channel = await TestChannel.CreateAsync(
            servers.Servers, new LoadwiseBalancingConfig(LoadwisePolicies.RingHash) { HashHeader = "player-id" }, method: TestChannel.RetryUnavailable);
        var before = new Dictionary<string, string>();
        for (int p = 0; p < 90; p++)
        {
            before["p" + p] = await channel.JoinAsPlayerAsync("player-id", "p" + p);
        }

        await servers["B"].StopAsync();
        var moved = new List<string>();
        foreach ((string player, string home) in before)
        {
            string now = await channel.JoinAsPlayerAsync("player-id", player);
            Assert.NotEqual("B", now);
            if (now != home)
            {
                moved.Add(player);
            }
        }

        string[] onB = [.. before.Where(p => p.Value == "B").Select(p => p.Key)];
        Assert.NotEmpty(onB);
        Assert.Equal(onB.Order(), moved.Order());
    }
}
