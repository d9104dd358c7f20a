using System.Collections.Concurrent;
using System.Text;
using Loadwise.AotProxy.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Loadwise.AotProxy.IntegrationTests.Telemetry;

/// <summary>
/// The OTLP export against a small OTLP/HTTP receiver: the proxy pushes its metrics as protobuf to
/// <c>/v1/metrics</c>, with its service name, besides its scrape.
/// </summary>
public sealed class OtlpExportTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Metrics_are_pushed_to_the_collector_as_otlp_protobuf()
    {
        await using Receiver receiver = await Receiver.StartAsync();
        await using TestProxy proxy = await TestProxy.StartAsync(o =>
        {
            o.Telemetry.Otlp.Endpoint = receiver.Url;
            o.Telemetry.Otlp.IntervalMs = 1_000;
        }, backendCount: 2);

        await proxy.CountAsync(10);
        await ScriptedBackend.WaitForAsync(
            () => receiver.Requests.Any(r => Contains(r.Body, "loadwise.requests")),
            "an OTLP push that carries loadwise.requests",
            15_000);

        Received push = receiver.Requests.First(r => Contains(r.Body, "loadwise.requests"));
        Assert.Equal("/v1/metrics", push.Path);
        Assert.Equal("application/x-protobuf", push.ContentType);
        Assert.True(Contains(push.Body, "loadwise-proxy"), "the resource's service.name");
        Assert.True(Contains(push.Body, "loadwise.request.duration"), "the latency histogram");
        Assert.True(Contains(push.Body, proxy.Backends[0].Name), "the backend tag");
        // The scrape is still served.
        Assert.Contains("loadwise_requests_total", proxy.Scrape(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:4318", "http/protobuf", "http://127.0.0.1:4318/v1/metrics")]
    [InlineData("http://collector:4318/", "http/protobuf", "http://collector:4318/v1/metrics")]
    [InlineData("http://collector:4318/custom/metrics", "http/protobuf", "http://collector:4318/custom/metrics")]
    [InlineData("http://collector:4317", "grpc", "http://collector:4317/")]
    public void A_bare_collector_address_gets_the_metrics_path_over_http(string endpoint, string protocol, string expected) =>
        Assert.Equal(expected, ProxyTelemetry.OtlpUrl(endpoint, protocol));

    private static bool Contains(byte[] body, string text) => body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;

    private sealed record Received(string Path, string? ContentType, byte[] Body);

    /// <summary>An OTLP/HTTP receiver: keeps every request, answers 200 with an empty export response.</summary>
    private sealed class Receiver : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private Receiver(WebApplication app) => _app = app;

        public ConcurrentQueue<Received> Requests { get; } = new();

        public string Url => _app.Urls.First();

        public static async Task<Receiver> StartAsync()
        {
            WebApplicationBuilder builder = EmptyWebHost.CreateBuilder();
            builder.WebHost.UseKestrelCore().UseUrls("http://127.0.0.1:0");
            WebApplication app = builder.Build();
            var receiver = new Receiver(app);
            app.Run(async context =>
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body, context.RequestAborted);
                receiver.Requests.Enqueue(new Received(context.Request.Path.Value ?? "", context.Request.ContentType, body.ToArray()));
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = "application/x-protobuf";
            });
            await app.StartAsync(Ct);
            return receiver;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
