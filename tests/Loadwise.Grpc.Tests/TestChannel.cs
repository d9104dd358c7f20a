using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Loadwise.Grpc.Tests.Lobby;
using Microsoft.Extensions.DependencyInjection;

namespace Loadwise.Grpc.Tests;

/// <summary>A real Grpc.Net.Client channel over a static resolver of test servers, with the Loadwise policies registered.</summary>
internal sealed class TestChannel : IDisposable
{
    private readonly ServiceProvider _services;

    private TestChannel(GrpcChannel channel, ServiceProvider services)
    {
        Channel = channel;
        _services = services;
        Client = new Lobby.Lobby.LobbyClient(channel);
    }

    public GrpcChannel Channel { get; }

    public Lobby.Lobby.LobbyClient Client { get; }

    /// <summary>Retries UNAVAILABLE up to 5 attempts, as an application that expects servers to come and go would.</summary>
    public static MethodConfig RetryUnavailable => new()
    {
        Names = { MethodName.Default },
        RetryPolicy = new RetryPolicy
        {
            MaxAttempts = 5,
            InitialBackoff = TimeSpan.FromMilliseconds(10),
            MaxBackoff = TimeSpan.FromMilliseconds(50),
            BackoffMultiplier = 1.5,
            RetryableStatusCodes = { StatusCode.Unavailable },
        },
    };

    public static async Task<TestChannel> CreateAsync(
        IReadOnlyList<TestServer> servers,
        LoadBalancingConfig policy,
        TimeProvider? time = null,
        MethodConfig? method = null,
        IReadOnlyList<int>? weights = null,
        bool statusHandler = true)
    {
        var addresses = new List<BalancerAddress>();
        for (int i = 0; i < servers.Count; i++)
        {
            var address = new BalancerAddress("127.0.0.1", servers[i].Port);
            if (weights is not null)
            {
                address.Attributes.Set(LoadwiseAddressAttributes.Weight, weights[i]);
            }

            addresses.Add(address);
        }

        var services = new ServiceCollection();
        services.AddLoadwiseGrpcBalancers();
        services.AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => addresses));
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        ServiceProvider provider = services.BuildServiceProvider();
        var config = new ServiceConfig { LoadBalancingConfigs = { policy } };
        if (method is not null)
        {
            config.MethodConfigs.Add(method);
        }

        var channel = GrpcChannel.ForAddress("static:///lobby", new GrpcChannelOptions
        {
            Credentials = ChannelCredentials.Insecure,
            ServiceProvider = provider,
            ServiceConfig = config,
            HttpHandler = statusHandler ? new LoadwiseGrpcHandler() : new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
        });
        var result = new TestChannel(channel, provider);
        await result.WarmUpAsync(servers);
        return result;
    }

    public async Task<string> JoinAsync(string player = "", Metadata? headers = null) =>
        (await Client.JoinAsync(new JoinRequest { Player = player }, headers, DateTime.UtcNow.AddSeconds(10), TestContext.Current.CancellationToken)).Server;

    public Task<string> JoinAsPlayerAsync(string header, string player) => JoinAsync(player, new Metadata { { header, player } });

    public void Dispose()
    {
        Channel.Dispose();
        _services.Dispose();
    }

    /// <summary>Calls until every server has answered once, so that all subchannels are READY before a test counts.</summary>
    private async Task WarmUpAsync(IReadOnlyList<TestServer> servers)
    {
        await Channel.ConnectAsync(TestContext.Current.CancellationToken);
        int[] before = [.. servers.Select(s => s.Behaviour.Calls)];
        for (int i = 0; i < 400; i++)
        {
            bool all = true;
            for (int s = 0; s < servers.Count; s++)
            {
                all &= servers[s].Behaviour.Calls > before[s];
            }

            if (all)
            {
                return;
            }

            // Keys vary so that hashing policies reach every server too.
            await JoinAsync("warm-" + i, new Metadata { { "player-id", "warm-" + i } });
            if (i % 20 == 19)
            {
                await Task.Delay(20, TestContext.Current.CancellationToken);
            }
        }

        throw new InvalidOperationException("Not every test server became READY: " + string.Join(", ", servers.Select(s => $"{s.Name}={s.Behaviour.Calls}")));
    }
}
