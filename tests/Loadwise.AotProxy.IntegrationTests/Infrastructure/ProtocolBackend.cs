using System.Net;
using System.Security.Cryptography.X509Certificates;
using Loadwise.AotProxy.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// A Kestrel backend on a loopback port with the protocols and certificate a test asks for; by default it answers
/// with the protocol and scheme it was reached over (<c>HTTP/2 https</c>).
/// </summary>
internal sealed class ProtocolBackend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ProtocolBackend(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    public static async Task<ProtocolBackend> StartAsync(HttpProtocols protocols, X509Certificate2? certificate = null, RequestDelegate? handler = null, Action<IServiceCollection>? services = null, Action<WebApplication>? map = null)
    {
        WebApplicationBuilder builder = EmptyWebHost.CreateBuilder();
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        builder.Logging.ClearProviders();
        services?.Invoke(builder.Services);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = protocols;
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        WebApplication app = builder.Build();
        if (map is not null)
        {
            map(app);
        }
        else
        {
            app.Run(handler ?? (static context => context.Response.WriteAsync($"{context.Request.Protocol} {context.Request.Scheme}")));
        }

        await app.StartAsync(TestContext.Current.CancellationToken);
        string url = app.Urls.First();
        return new ProtocolBackend(app, certificate is null ? url : url.Replace("127.0.0.1", "localhost", StringComparison.Ordinal));
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}
