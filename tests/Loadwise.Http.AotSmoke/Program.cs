using System.Net;
using Loadwise;
using Loadwise.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// Everything an application would touch: configuration binding, DI registration by name, the provider, the
// load-balanced HttpClient (with an in-memory terminal handler: the smoke test needs no network).
HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
{
    ["Loadwise:search:Strategy:Name"] = "PowerOfTwoChoices",
    ["Loadwise:search:Health:FailureThreshold"] = "2",
    ["Loadwise:Http:catalog:Balancer:Strategy:Name"] = "RoundRobin",
    ["Loadwise:Http:catalog:Endpoints:0"] = "http://10.0.0.1:8080",
    ["Loadwise:Http:catalog:Endpoints:1"] = "http://10.0.0.2:8080",
});
builder.Services.AddLoadwise<string>("search", builder.Configuration.GetSection("Loadwise:search"));
builder.Services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog"))
    .AddLoadwise(builder.Configuration.GetSection("Loadwise:Http:catalog"))
    .ConfigurePrimaryHttpMessageHandler(() => new Echo());
using IHost host = builder.Build();
await host.StartAsync();

LoadBalancer<string> search = host.Services.GetRequiredService<ILoadBalancerProvider<string>>().GetBalancer("search");
search.Update(["a", "b"]);
if (!search.TryAcquire(SelectionContext.Empty, out NodeLease<string> lease))
{
    return 1;
}

lease.Dispose(Outcome.Success);
HttpClient client = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
string first = await client.GetStringAsync("/items?page=1");
string second = await client.GetStringAsync("/items?page=2");
Console.WriteLine($"{search.StrategyName} {first} {second}");
Console.WriteLine(first != second ? "AOT-SMOKE-OK" : "AOT-SMOKE-FAIL");
await host.StopAsync();
return first != second ? 0 : 1;

internal sealed class Echo : HttpMessageHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(request.RequestUri!.Authority + request.RequestUri.PathAndQuery) });
}
