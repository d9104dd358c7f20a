using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using GrpcGameLobby.Protocol;
using Loadwise.Grpc;
using Microsoft.Extensions.DependencyInjection;

namespace GrpcGameLobby;

/// <summary>What the demo saw: where players were, which server stopped, and who moved.</summary>
/// <param name="Players">Players that joined.</param>
/// <param name="StoppedServer">The server stopped between the two rounds.</param>
/// <param name="OnStoppedServer">Players whose home was the stopped server.</param>
/// <param name="Moved">Players whose home changed.</param>
/// <param name="MovedFromElsewhere">Players that moved although their server kept running (0 with ring hashing).</param>
/// <param name="Failed">Joins that failed after gRPC's retries.</param>
internal sealed record LobbyReport(int Players, string StoppedServer, int OnStoppedServer, int Moved, int MovedFromElsewhere, int Failed);

/// <summary>
/// Three lobby servers; each player's calls carry the metadata entry <c>player-id</c>, and the channel's
/// <c>loadwise_ring_hash</c> policy hashes it, so a player keeps landing on the server that holds the session. Then
/// one server stops: its players rejoin elsewhere (gRPC retries the calls that were under way when it went), and
/// everyone else stays where they were.
/// </summary>
internal static class LobbyDemo
{
    public const string PlayerHeader = "player-id";

    public static async Task<LobbyReport> RunAsync(int players, TextWriter output, CancellationToken cancellationToken)
    {
        string[] serverNames = ["lobby-1", "lobby-2", "lobby-3"];
        LobbyServer[] servers = await Task.WhenAll(serverNames.Select(n => LobbyServer.StartAsync(n, cancellationToken)));
        try
        {
            BalancerAddress[] addresses = [.. servers.Select(s => new BalancerAddress("127.0.0.1", s.Port))];
            var services = new ServiceCollection()
                .AddLoadwiseGrpcBalancers()
                .AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => addresses));
            await using ServiceProvider provider = services.BuildServiceProvider();
            using GrpcChannel channel = GrpcChannel.ForAddress("static:///lobby", new GrpcChannelOptions
            {
                Credentials = ChannelCredentials.Insecure,
                ServiceProvider = provider,
                HttpHandler = new LoadwiseGrpcHandler(),
                ServiceConfig = new ServiceConfig
                {
                    LoadBalancingConfigs = { new LoadwiseBalancingConfig(LoadwisePolicies.RingHash) { HashHeader = PlayerHeader } },
                    MethodConfigs = { RetryUnavailable() },
                },
            });
            await channel.ConnectAsync(cancellationToken);
            var client = new GameLobby.GameLobbyClient(channel);
            string[] names = [.. Enumerable.Range(1, players).Select(i => $"player-{i:D4}")];

            // Subchannels become READY one by one; wait until the ring has all three before homes are recorded.
            await WaitForAllAsync(client, servers.Length, cancellationToken);
            (Dictionary<string, string> before, int failedBefore) = await JoinAllAsync(client, names, cancellationToken);
            output.WriteLine($"{players} players joined: {Spread(before)}");

            LobbyServer stopped = servers[1];
            await stopped.StopAsync();
            output.WriteLine($"{stopped.Name} stopped.");

            (Dictionary<string, string> after, int failedAfter) = await JoinAllAsync(client, names, cancellationToken);
            int onStopped = before.Count(p => p.Value == stopped.Name);
            int moved = before.Count(p => after.TryGetValue(p.Key, out string? now) && now != p.Value);
            int movedFromElsewhere = before.Count(p => p.Value != stopped.Name && after.TryGetValue(p.Key, out string? now) && now != p.Value);
            output.WriteLine($"Players rejoined: {Spread(after)}");
            output.WriteLine($"{moved} players moved; {onStopped} were on {stopped.Name}; {movedFromElsewhere} moved from a server that kept running.");
            return new LobbyReport(players, stopped.Name, onStopped, moved, movedFromElsewhere, failedBefore + failedAfter);
        }
        finally
        {
            foreach (LobbyServer server in servers)
            {
                await server.DisposeAsync();
            }
        }
    }

    private static MethodConfig RetryUnavailable() => new()
    {
        Names = { MethodName.Default },
        RetryPolicy = new RetryPolicy
        {
            MaxAttempts = 4,
            InitialBackoff = TimeSpan.FromMilliseconds(20),
            MaxBackoff = TimeSpan.FromMilliseconds(200),
            BackoffMultiplier = 2,
            RetryableStatusCodes = { StatusCode.Unavailable },
        },
    };

    private static async Task WaitForAllAsync(GameLobby.GameLobbyClient client, int serverCount, CancellationToken cancellationToken)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; seen.Count < serverCount; i++)
        {
            if (i == 500)
            {
                throw new InvalidOperationException($"Only {seen.Count} of {serverCount} lobby servers answered.");
            }

            // Probe players, not real ones: their sessions do not count.
            JoinReply reply = await client.JoinAsync(new JoinRequest { Player = "probe" }, new Metadata { { PlayerHeader, "probe-" + i } }, cancellationToken: cancellationToken);
            seen.Add(reply.Server);
            if (i % 10 == 9)
            {
                await Task.Delay(10, cancellationToken);
            }
        }
    }

    private static async Task<(Dictionary<string, string> Homes, int Failed)> JoinAllAsync(GameLobby.GameLobbyClient client, string[] players, CancellationToken cancellationToken)
    {
        var homes = new Dictionary<string, string>(StringComparer.Ordinal);
        int failed = 0;
        foreach (string player in players)
        {
            try
            {
                JoinReply reply = await client.JoinAsync(
                    new JoinRequest { Player = player }, new Metadata { { PlayerHeader, player } }, DateTime.UtcNow.AddSeconds(5), cancellationToken);
                homes[player] = reply.Server;
            }
            catch (RpcException)
            {
                failed++;
            }
        }

        return (homes, failed);
    }

    private static string Spread(Dictionary<string, string> homes) =>
        string.Join(", ", homes.GroupBy(p => p.Value).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}"));
}
