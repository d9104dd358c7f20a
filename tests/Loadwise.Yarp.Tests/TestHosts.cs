using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Configuration;

namespace Loadwise.Yarp.Tests;

/// <summary>A real Kestrel destination on 127.0.0.1 that answers with its name; a test may script a delay or hold requests.</summary>
public sealed class Backend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    private Backend(string name, WebApplication app)
    {
        Name = name;
        _app = app;
    }

    public string Name { get; }

    public string Address { get; private set; } = "";

    public int Requests => Volatile.Read(ref _requests);

    public TimeSpan Delay { get; set; }

    /// <summary>While set, requests wait for it before answering.</summary>
    public TaskCompletionSource? Gate { get; set; }

    public static async Task<Backend> StartAsync(string name)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        WebApplication app = builder.Build();
        var backend = new Backend(name, app);
        app.Run(backend.HandleAsync);
        await app.StartAsync();
        backend.Address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return backend;
    }

    public static async Task<Backend[]> StartManyAsync(params string[] names) => await Task.WhenAll(names.Select(StartAsync));

    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        if (Gate is { } gate)
        {
            await gate.Task;
        }

        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay);
        }

        await context.Response.WriteAsync(Name);
    }
}

/// <summary>A YARP proxy on 127.0.0.1 with the Loadwise policies, configured in memory or from an IConfiguration section.</summary>
public sealed class Proxy : IAsyncDisposable
{
    private readonly WebApplication _app;

    private Proxy(WebApplication app, HttpClient client)
    {
        _app = app;
        Client = client;
    }

    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    public static Task<Proxy> StartAsync(ClusterConfig cluster, string path = "{**catch-all}", bool latency = true) =>
        StartAsync(builder => builder.LoadFromMemory([Route(cluster.ClusterId, path)], [cluster]), latency);

    public static Task<Proxy> StartAsync(IConfiguration configuration) =>
        StartAsync(builder => builder.LoadFromConfig(configuration), latency: true);

    public static async Task<Proxy> StartAsync(Action<IReverseProxyBuilder> configure, bool latency)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        IReverseProxyBuilder proxy = builder.Services.AddReverseProxy();
        configure(proxy);
        proxy.AddLoadwisePolicies();
        WebApplication app = builder.Build();
        app.MapReverseProxy(pipeline =>
        {
            pipeline.UseSessionAffinity();
            pipeline.UseLoadBalancing();
            if (latency)
            {
                pipeline.UseLoadwiseLatency();
            }

            pipeline.UsePassiveHealthChecks();
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Proxy(app, new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(20) });
    }

    public static RouteConfig Route(string clusterId, string path = "{**catch-all}") =>
        new() { RouteId = "route-" + clusterId, ClusterId = clusterId, Match = new RouteMatch { Path = path } };

    public static ClusterConfig Cluster(string policy, IEnumerable<Backend> backends, Func<Backend, Dictionary<string, string>?>? metadata = null, Dictionary<string, string>? clusterMetadata = null) => new()
    {
        ClusterId = "c",
        LoadBalancingPolicy = policy,
        Metadata = clusterMetadata,
        Destinations = backends.ToDictionary(b => b.Name, b => new DestinationConfig { Address = b.Address, Metadata = metadata?.Invoke(b) }),
    };

    /// <summary>Sends requests one after another and counts the answering backends by name.</summary>
    public async Task<Dictionary<string, int>> CountAsync(int requests, Func<int, HttpRequestMessage> request)
    {
        var counts = new Dictionary<string, int>();
        for (int i = 0; i < requests; i++)
        {
            string name = await SendAsync(request(i));
            counts[name] = counts.GetValueOrDefault(name) + 1;
        }

        return counts;
    }

    public async Task<string> SendAsync(HttpRequestMessage request)
    {
        using HttpResponseMessage response = await Client.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
        return body;
    }

    public static HttpRequestMessage Get(string path = "/", string? header = null, string? value = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (header is not null)
        {
            request.Headers.Add(header, value);
        }

        return request;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.DisposeAsync();
    }
}

/// <summary>Backends and a proxy, disposed together.</summary>
public static class Disposables
{
    public static async Task DisposeAllAsync(Proxy? proxy, IEnumerable<Backend> backends)
    {
        if (proxy is not null)
        {
            await proxy.DisposeAsync();
        }

        foreach (Backend backend in backends)
        {
            await backend.DisposeAsync();
        }
    }
}
