using System.Net;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Loadwise.Benchmarks;

/// <summary>
/// What a load-balanced HttpClient adds per request. Three clients from the same IHttpClientFactory send
/// <c>GET /items?page=2</c> to an in-memory terminal handler that answers 200 at once, so only the handlers differ:
/// a plain client to one endpoint (baseline), service discovery's round robin over three configured endpoints
/// (<c>AddServiceDiscovery()</c>), and Loadwise's handler over the same three (<c>AddLoadwise</c>, round robin with
/// health tracking on, and PowerOfTwoChoices). No sockets: network time would hide a microsecond.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[Config(typeof(BenchmarkJobs.ShortRun))]
public class HttpOverheadBenchmarks
{
    private ServiceProvider _provider = null!;
    private HttpClient _plain = null!;
    private HttpClient _serviceDiscovery = null!;
    private HttpClient _loadwise = null!;
    private HttpClient _loadwiseP2C = null!;

    [GlobalSetup]
    public void Setup()
    {
        string[] endpoints = ["http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://10.0.0.3:8080"];
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Services:catalog:http:0"] = endpoints[0],
            ["Services:catalog:http:1"] = endpoints[1],
            ["Services:catalog:http:2"] = endpoints[2],
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddServiceDiscovery();
        services.AddHttpClient("plain", c => c.BaseAddress = new Uri(endpoints[0])).ConfigurePrimaryHttpMessageHandler(() => new AnswerOk());
        services.AddHttpClient("sd", c => c.BaseAddress = new Uri("http://catalog")).AddServiceDiscovery().ConfigurePrimaryHttpMessageHandler(() => new AnswerOk());
        services.AddHttpClient("lw", c => c.BaseAddress = new Uri("http://catalog"))
            .AddLoadwise(o => o.Endpoints = endpoints).ConfigurePrimaryHttpMessageHandler(() => new AnswerOk());
        services.AddHttpClient("lw-p2c", c => c.BaseAddress = new Uri("http://catalog"))
            .AddLoadwise(o =>
            {
                o.Endpoints = endpoints;
                o.Balancer.Strategy.Name = "PowerOfTwoChoices";
            })
            .ConfigurePrimaryHttpMessageHandler(() => new AnswerOk());
        _provider = services.BuildServiceProvider();
        var factory = _provider.GetRequiredService<IHttpClientFactory>();
        _plain = factory.CreateClient("plain");
        _serviceDiscovery = factory.CreateClient("sd");
        _loadwise = factory.CreateClient("lw");
        _loadwiseP2C = factory.CreateClient("lw-p2c");
    }

    [GlobalCleanup]
    public void Cleanup() => _provider.Dispose();

    [Benchmark(Baseline = true)]
    public Task<int> PlainClient() => SendAsync(_plain);

    [Benchmark]
    public Task<int> ServiceDiscoveryRoundRobin() => SendAsync(_serviceDiscovery);

    [Benchmark]
    public Task<int> LoadwiseRoundRobin() => SendAsync(_loadwise);

    [Benchmark]
    public Task<int> LoadwisePowerOfTwoChoices() => SendAsync(_loadwiseP2C);

    private static async Task<int> SendAsync(HttpClient client)
    {
        using HttpResponseMessage response = await client.GetAsync("/items?page=2").ConfigureAwait(false);
        return (int)response.StatusCode + response.RequestMessage!.RequestUri!.Port;
    }

    private sealed class AnswerOk : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request });
    }
}
