using System.Globalization;
using System.Text;
using Loadwise.AotProxy.Upstream;

namespace Loadwise.AotProxy.Hosting;

/// <summary>
/// A small in-process backend for the demo (and the tests): <c>GET /</c> answers its name, <c>GET /health</c> 200,
/// <c>GET /delay/{ms}</c> its name after sleeping, <c>POST /echo</c> streams the body back, <c>GET /headers</c> lists
/// the request headers it received, <c>/ws</c> is a WebSocket echo (<see cref="WebSocketEcho"/>).
/// </summary>
internal sealed class DemoBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _cancelledDelays;
    private int _requests;
    private int _stopped;
    private readonly byte[] _nameLine;

    private DemoBackend(string name, WebApplication app)
    {
        Name = name;
        _nameLine = Encoding.UTF8.GetBytes(name + "\n");
        _app = app;
    }

    public string Name { get; }

    /// <summary>Gets the URL the backend listens on (the real port when it was started on port 0).</summary>
    public string Url { get; private set; } = string.Empty;

    /// <summary>Gets how many requests it has answered or started, not counting health probes (<c>GET /health</c>).</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Gets how many <c>/delay</c> requests were cancelled because the caller went away.</summary>
    public int CancelledDelays => Volatile.Read(ref _cancelledDelays);

    /// <summary>Starts a backend; <paramref name="extra"/> may answer a request first (return true when it did).</summary>
    public static async Task<DemoBackend> StartAsync(string name, string url, Func<HttpContext, Task<bool>>? extra = null, CancellationToken cancellationToken = default)
    {
        WebApplicationBuilder builder = EmptyWebHost.CreateBuilder();
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(url);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null;
        });
        WebApplication app = builder.Build();
        var backend = new DemoBackend(name, app);
        app.UseWebSockets();
        app.Run(async context =>
        {
            if (!string.Equals(context.Request.Path.Value, "/health", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref backend._requests);
            }

            if (extra is null || !await extra(context).ConfigureAwait(false))
            {
                await backend.HandleAsync(context).ConfigureAwait(false);
            }
        });
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        backend.Url = app.Urls.First();
        return backend;
    }

    /// <summary>Stops at once, the way a crashed process does: open connections are reset, in-flight requests cut.</summary>
    public async Task KillAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        try
        {
            await _app.StopAsync(new CancellationToken(canceled: true)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // A cancelled stop is the point: Kestrel aborts the connections instead of draining them.
        }

        await _app.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task HandleAsync(HttpContext context)
    {
        HttpRequest request = context.Request;
        HttpResponse response = context.Response;
        string path = request.Path.Value ?? "/";
        if (path == "/ws" && context.WebSockets.IsWebSocketRequest)
        {
            await WebSocketEcho.RunAsync(context).ConfigureAwait(false);
            return;
        }

        response.ContentType = "text/plain; charset=utf-8";
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
        {
            if (path == "/")
            {
                // With a length the whole answer goes out in one write (no chunked tail a crash could cut off).
                response.ContentLength = _nameLine.Length;
                await response.Body.WriteAsync(_nameLine, context.RequestAborted).ConfigureAwait(false);
                return;
            }

            if (path == "/health")
            {
                await response.WriteAsync("ok\n").ConfigureAwait(false);
                return;
            }

            if (path == "/headers")
            {
                var text = new StringBuilder();
                foreach (KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues> header in request.Headers)
                {
                    text.Append(header.Key).Append(": ").Append(header.Value.ToString()).Append('\n');
                }

                await response.WriteAsync(text.ToString()).ConfigureAwait(false);
                return;
            }

            if (path.StartsWith("/delay/", StringComparison.Ordinal)
                && int.TryParse(path.AsSpan("/delay/".Length), NumberStyles.None, CultureInfo.InvariantCulture, out int milliseconds)
                && milliseconds <= 600_000)
            {
                try
                {
                    await Task.Delay(milliseconds, context.RequestAborted).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref _cancelledDelays);
                    return;
                }

                await response.WriteAsync(Name + "\n").ConfigureAwait(false);
                return;
            }
        }
        else if (HttpMethods.IsPost(request.Method) && path == "/echo")
        {
            response.ContentType = request.ContentType ?? "application/octet-stream";
            if (request.ContentLength is long length)
            {
                response.ContentLength = length;
            }

            await BodyCopy.CopyAsync(request.Body, response.Body, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        response.StatusCode = StatusCodes.Status404NotFound;
        await response.WriteAsync("404 try GET /, /health, /headers, /delay/{ms} or POST /echo\n").ConfigureAwait(false);
    }
}
