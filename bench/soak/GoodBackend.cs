using System.Buffers;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Loadwise.Soak;

/// <summary>
/// A well-behaved backend on Kestrel: <c>GET /health</c> is 200; any other GET, HEAD or POST answers the echo body
/// (the ids it got in the path and in <c>X-Request-Id</c>, the POST body's length and checksum) and <c>X-Echo-Id</c>.
/// </summary>
internal sealed class GoodBackend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GoodBackend(WebApplication app, string name, int port)
    {
        _app = app;
        Name = name;
        Port = port;
    }

    public string Name { get; }

    public int Port { get; }

    /// <summary>Starts a backend on 127.0.0.1:<paramref name="port"/> (0: a free port).</summary>
    /// <param name="name">The name it answers with.</param>
    /// <param name="port">The port, or 0.</param>
    /// <param name="stats">Where it records the ids it sees (null in a child process).</param>
    public static async Task<GoodBackend> StartAsync(string name, int port, Stats? stats)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.Listen(IPAddress.Loopback, port);
            o.AddServerHeader = false;
            o.Limits.MaxRequestBodySize = null;
        });
        WebApplication app = builder.Build();
        app.Run(context => HandleAsync(context, name, stats));
        await app.StartAsync().ConfigureAwait(false);
        string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new GoodBackend(app, name, new Uri(address).Port);
    }

    private static async Task HandleAsync(HttpContext context, string name, Stats? stats)
    {
        HttpRequest request = context.Request;
        HttpResponse response = context.Response;
        string path = request.Path.Value ?? string.Empty;
        if (path == "/health")
        {
            response.ContentLength = 2;
            await response.WriteAsync("ok").ConfigureAwait(false);
            return;
        }

        string headerId = request.Headers[Protocol.RequestIdHeader].ToString();
        stats?.Seen(headerId, name);
        long length = 0;
        ulong sum = Protocol.FnvOffset;
        if (HttpMethods.IsPost(request.Method))
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int read;
                while ((read = await request.Body.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                {
                    sum = Protocol.Fnv1a(sum, buffer.AsSpan(0, read));
                    length += read;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        byte[] body = Protocol.Ascii(Protocol.EchoBody(Protocol.PathId(path), headerId, length, sum, name));
        response.Headers[Protocol.EchoIdHeader] = headerId;
        response.ContentType = "text/plain";
        response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(request.Method))
        {
            await response.Body.WriteAsync(body).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(stop.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
