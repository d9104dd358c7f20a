using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Configuration;

namespace Loadwise.Yarp.Tests;

/// <summary>Loadwise.ConsistentHash, Loadwise.Maglev and Loadwise.BoundedLoad behind a real YARP pipeline.</summary>
public sealed class HashingTests
{
    public static TheoryData<string, string> Sources => new()
    {
        { LoadwisePolicies.ConsistentHash, "header:X-Player" },
        { LoadwisePolicies.ConsistentHash, "cookie:sid" },
        { LoadwisePolicies.ConsistentHash, "query:player" },
        { LoadwisePolicies.ConsistentHash, "route:id" },
        { LoadwisePolicies.Maglev, "header:X-Player" },
        { LoadwisePolicies.Maglev, "route:id" },
        { LoadwisePolicies.BoundedLoad, "cookie:sid" },
    };

    [Theory]
    [MemberData(nameof(Sources))]
    public async Task Each_key_sticks_to_one_destination_and_keys_spread(string policy, string source)
    {
        Backend[] backends = await Backend.StartManyAsync("a", "b", "c");
        Proxy? proxy = null;
        try
        {
            ClusterConfig cluster = Proxy.Cluster(policy, backends, clusterMetadata: new() { [LoadwiseMetadata.HashKey] = source });
            proxy = await Proxy.StartAsync(cluster, "/players/{id}/{**rest}");
            var owners = new Dictionary<string, string>();
            for (int round = 0; round < 3; round++)
            {
                for (int player = 0; player < 30; player++)
                {
                    string name = await proxy.SendAsync(KeyedRequest(source, "player-" + player));
                    Assert.Equal(owners.GetValueOrDefault("player-" + player, name), name);
                    owners["player-" + player] = name;
                }
            }

            // 30 keys over 3 destinations: each destination owns some (a key source that reads nothing would not).
            Assert.Equal(3, owners.Values.Distinct().Count());
        }
        finally
        {
            await Disposables.DisposeAllAsync(proxy, backends);
        }
    }

    [Theory]
    [InlineData(LoadwisePolicies.ConsistentHash)]
    [InlineData(LoadwisePolicies.Maglev)]
    public async Task The_client_address_is_a_key_too(string policy)
    {
        Backend[] backends = await Backend.StartManyAsync("a", "b", "c");
        Proxy? proxy = null;
        try
        {
            ClusterConfig cluster = Proxy.Cluster(policy, backends, clusterMetadata: new() { [LoadwiseMetadata.HashKey] = "ip" });
            proxy = await Proxy.StartAsync(cluster);

            Dictionary<string, int> counts = await proxy.CountAsync(20, _ => Proxy.Get());

            Assert.Equal(20, Assert.Single(counts).Value); // one client, one destination
        }
        finally
        {
            await Disposables.DisposeAllAsync(proxy, backends);
        }
    }

    [Theory]
    [InlineData(LoadwisePolicies.ConsistentHash)]
    [InlineData(LoadwisePolicies.Maglev)]
    [InlineData(LoadwisePolicies.BoundedLoad)]
    public async Task Requests_without_the_key_are_spread_by_weighted_round_robin(string policy)
    {
        Backend[] backends = await Backend.StartManyAsync("a", "b", "c");
        Proxy? proxy = null;
        try
        {
            ClusterConfig cluster = Proxy.Cluster(policy, backends, clusterMetadata: new() { [LoadwiseMetadata.HashKey] = "header:X-Player" });
            proxy = await Proxy.StartAsync(cluster);

            Dictionary<string, int> counts = await proxy.CountAsync(30, _ => Proxy.Get());

            Assert.All(backends, b => Assert.Equal(10, counts.GetValueOrDefault(b.Name)));
        }
        finally
        {
            await Disposables.DisposeAllAsync(proxy, backends);
        }
    }

    [Fact]
    public async Task Maglev_gives_keys_in_proportion_to_the_weights()
    {
        Backend[] backends = await Backend.StartManyAsync("a", "b");
        Proxy? proxy = null;
        try
        {
            ClusterConfig cluster = Proxy.Cluster(LoadwisePolicies.Maglev, backends, b => new() { [LoadwiseMetadata.Weight] = b.Name == "a" ? "3" : "1" }, new() { [LoadwiseMetadata.HashKey] = "header:X-Player" });
            proxy = await Proxy.StartAsync(cluster);

            Dictionary<string, int> counts = await proxy.CountAsync(400, i => Proxy.Get("/", "X-Player", "player-" + i));

            Assert.InRange(counts.GetValueOrDefault("a"), 270, 330); // 300 expected
        }
        finally
        {
            await Disposables.DisposeAllAsync(proxy, backends);
        }
    }

    [Fact]
    public async Task A_new_destination_takes_keys_only_from_the_others_and_no_key_moves_between_old_ones()
    {
        Backend[] backends = await Backend.StartManyAsync("a", "b", "c", "d");
        Proxy? proxy = null;
        try
        {
            var hashKey = new Dictionary<string, string> { [LoadwiseMetadata.HashKey] = "header:X-Player" };
            proxy = await Proxy.StartAsync(Proxy.Cluster(LoadwisePolicies.ConsistentHash, backends[..3], clusterMetadata: hashKey));
            var before = new string[200];
            for (int i = 0; i < before.Length; i++)
            {
                before[i] = await proxy.SendAsync(Proxy.Get("/", "X-Player", "p" + i));
            }

            proxy.Services.GetRequiredService<InMemoryConfigProvider>().Update([Proxy.Route("c")], [Proxy.Cluster(LoadwisePolicies.ConsistentHash, backends, clusterMetadata: hashKey)]);
            int moved = 0;
            for (int i = 0; i < before.Length; i++)
            {
                string now = await proxy.SendAsync(Proxy.Get("/", "X-Player", "p" + i));
                Assert.True(now == before[i] || now == "d", $"key p{i} moved from {before[i]} to {now}");
                moved += now == "d" ? 1 : 0;
            }

            Assert.InRange(moved, 20, 90); // about a quarter of 200
        }
        finally
        {
            await Disposables.DisposeAllAsync(proxy, backends);
        }
    }

    [Theory]
    [InlineData(LoadwisePolicies.BoundedLoad, true)]
    [InlineData(LoadwisePolicies.ConsistentHash, false)]
    public async Task Bounded_load_moves_a_hot_key_off_a_destination_that_is_over_the_bound(string policy, bool spreads)
    {
        Backend[] backends = await Backend.StartManyAsync("a", "b", "c");
        Proxy? proxy = null;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            ClusterConfig cluster = Proxy.Cluster(policy, backends, clusterMetadata: new() { [LoadwiseMetadata.HashKey] = "header:X-Player" });
            proxy = await Proxy.StartAsync(cluster);
            string home = await proxy.SendAsync(Proxy.Get("/", "X-Player", "hot"));
            foreach (Backend backend in backends)
            {
                backend.Gate = gate;
            }

            // Six requests of one key in flight at once: the ring alone sends all six home; bounded load (c = 1.25)
            // lets the home destination take a request only while it holds under 1.25 x (in flight + 1) / 3.
            var pending = new List<Task<string>>();
            for (int i = 0; i < 6; i++)
            {
                pending.Add(proxy.SendAsync(Proxy.Get("/", "X-Player", "hot")));
                int expected = i + 2; // the first request plus those sent so far
                while (backends.Sum(b => b.Requests) < expected)
                {
                    await Task.Delay(5, TestContext.Current.CancellationToken);
                }
            }

            gate.SetResult();
            string[] answers = await Task.WhenAll(pending);
            Assert.Equal(spreads, answers.Any(a => a != home));
            Assert.Equal(home, await proxy.SendAsync(Proxy.Get("/", "X-Player", "hot"))); // idle again: home
        }
        finally
        {
            gate.TrySetResult();
            await Disposables.DisposeAllAsync(proxy, backends);
        }
    }

    private static HttpRequestMessage KeyedRequest(string source, string key)
    {
        string[] parts = source.Split(':');
        return parts[0] switch
        {
            "header" => Proxy.Get("/players/x/y", parts[1], key),
            "cookie" => Proxy.Get("/players/x/y", "Cookie", $"{parts[1]}={key}"),
            "query" => Proxy.Get($"/players/x/y?{parts[1]}={key}"),
            _ => Proxy.Get($"/players/{key}/y"),
        };
    }
}
