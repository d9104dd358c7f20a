using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using Loadwise.Grpc.Tests.Lobby;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Loadwise.Grpc.Tests;

/// <summary>What one test server does with a call: delay, fail with a status, send retry information.</summary>
internal sealed class ServerBehaviour
{
    private int _calls;

    public string Name { get; init; } = "";

    public int DelayMs { get; set; }

    public StatusCode FailWith { get; set; } = StatusCode.OK;

    /// <summary>Sent as <c>grpc-retry-pushback-ms</c> with a failure, when set.</summary>
    public int? PushbackMs { get; set; }

    /// <summary>Sent as <c>grpc-status-details-bin</c> with a failure, when set.</summary>
    public byte[]? StatusDetails { get; set; }

    public int Calls => Volatile.Read(ref _calls);

    public void Count() => Interlocked.Increment(ref _calls);
}

internal sealed class LobbyService(ServerBehaviour behaviour) : Lobby.Lobby.LobbyBase
{
    public override async Task<JoinReply> Join(JoinRequest request, ServerCallContext context)
    {
        behaviour.Count();
        if (behaviour.DelayMs > 0)
        {
            await Task.Delay(behaviour.DelayMs, context.CancellationToken);
        }

        if (behaviour.FailWith != StatusCode.OK)
        {
            var trailers = new Metadata();
            if (behaviour.PushbackMs is { } pushback)
            {
                trailers.Add("grpc-retry-pushback-ms", pushback.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            if (behaviour.StatusDetails is { } details)
            {
                trailers.Add("grpc-status-details-bin", details);
            }

            throw new RpcException(new Status(behaviour.FailWith, behaviour.Name + " refuses"), trailers);
        }

        return new JoinReply { Server = behaviour.Name };
    }
}

/// <summary>A real Kestrel gRPC server (h2c) on 127.0.0.1 with a port of its own.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestServer(WebApplication app, ServerBehaviour behaviour, int port)
    {
        _app = app;
        Behaviour = behaviour;
        Port = port;
    }

    public ServerBehaviour Behaviour { get; }

    public string Name => Behaviour.Name;

    public int Port { get; }

    public static async Task<TestServer> StartAsync(string name)
    {
        var behaviour = new ServerBehaviour { Name = name };
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(behaviour);
        WebApplication app = builder.Build();
        app.MapGrpcService<LobbyService>();
        await app.StartAsync(TestContext.Current.CancellationToken);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new TestServer(app, behaviour, new Uri(address).Port);
    }

    public static async Task<TestServer[]> StartManyAsync(int count) =>
        await Task.WhenAll(Enumerable.Range(0, count).Select(i => StartAsync(((char)('A' + i)).ToString())));

    public Task StopAsync() => _app.StopAsync(CancellationToken.None);

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

/// <summary>Counts which server answered.</summary>
internal sealed class Tally
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);

    public void Add(string server) => _counts.AddOrUpdate(server, 1, static (_, n) => n + 1);

    public int this[string server] => _counts.TryGetValue(server, out int n) ? n : 0;

    public int Total => _counts.Values.Sum();

    public override string ToString() => string.Join(", ", _counts.OrderBy(p => p.Key).Select(p => $"{p.Key}={p.Value}"));
}
