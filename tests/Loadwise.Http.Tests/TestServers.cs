using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Loadwise.Http.Tests;

/// <summary>A real Kestrel server on 127.0.0.1 that answers with its name, the path and the query; its answer can be scripted.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    private TestServer(string name, WebApplication app)
    {
        Name = name;
        _app = app;
    }

    public string Name { get; }

    public Uri Address { get; private set; } = null!;

    public int Requests => Volatile.Read(ref _requests);

    public ConcurrentQueue<string> Targets { get; } = new();

    /// <summary>Decides the answer; null for 200 with the server's name.</summary>
    public Func<HttpContext, Task<bool>>? Script { get; set; }

    public static async Task<TestServer> StartAsync(string name)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        WebApplication app = builder.Build();
        var server = new TestServer(name, app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(address);
        return server;
    }

    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        Targets.Enqueue(context.Request.Path + context.Request.QueryString);
        if (Script is { } script && await script(context))
        {
            return;
        }

        await context.Response.WriteAsync(Name);
    }
}

/// <summary>Three servers, disposed together.</summary>
public sealed class ServerTrio : IAsyncDisposable
{
    private ServerTrio(TestServer[] servers) => Servers = servers;

    public TestServer[] Servers { get; }

    public string[] Endpoints => [.. Servers.Select(s => s.Address.ToString())];

    public static async Task<ServerTrio> StartAsync() =>
        new(await Task.WhenAll(TestServer.StartAsync("s0"), TestServer.StartAsync("s1"), TestServer.StartAsync("s2")));

    public TestServer ByName(string name) => Servers.Single(s => s.Name == name);

    public async ValueTask DisposeAsync()
    {
        foreach (TestServer server in Servers)
        {
            await server.DisposeAsync();
        }
    }
}
