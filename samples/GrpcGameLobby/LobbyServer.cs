using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using GrpcGameLobby.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GrpcGameLobby;

/// <summary>One lobby server: Kestrel with HTTP/2 on 127.0.0.1, keeping the sessions of the players that joined it.</summary>
internal sealed class LobbyServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LobbyServer(string name, WebApplication app, Sessions sessions, int port)
    {
        Name = name;
        _app = app;
        Sessions = sessions;
        Port = port;
    }

    public string Name { get; }

    public int Port { get; }

    public Sessions Sessions { get; }

    public bool Stopped { get; private set; }

    public static async Task<LobbyServer> StartAsync(string name, CancellationToken cancellationToken)
    {
        var sessions = new Sessions(name);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(sessions);
        WebApplication app = builder.Build();
        app.MapGrpcService<LobbyService>();
        await app.StartAsync(cancellationToken);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new LobbyServer(name, app, sessions, new Uri(address).Port);
    }

    public async Task StopAsync()
    {
        Stopped = true;
        await _app.StopAsync(CancellationToken.None);
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

/// <summary>The players whose session a server holds.</summary>
internal sealed class Sessions(string server)
{
    private readonly ConcurrentDictionary<string, bool> _players = new(StringComparer.Ordinal);

    public string Server { get; } = server;

    public int Count => _players.Count;

    public int Join(string player)
    {
        _players[player] = true;
        return _players.Count;
    }
}

internal sealed class LobbyService(Sessions sessions) : GameLobby.GameLobbyBase
{
    public override Task<JoinReply> Join(JoinRequest request, ServerCallContext context) =>
        Task.FromResult(new JoinReply { Server = sessions.Server, PlayersHere = sessions.Join(request.Player) });
}
