using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmRouter;

/// <summary>
/// A stand-in LLM provider on 127.0.0.1: enforces its own requests and tokens per window with an exact sliding log
/// (independent of Loadwise's estimate, so it is an honest check), answers 429 with Retry-After when a request would
/// go over, and otherwise streams its answer as server-sent events ending with a usage event.
/// </summary>
internal sealed class StandInProvider : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Queue<(long At, int Tokens)> _log = new();
    private readonly Lock _gate = new();
    private readonly long _windowTicks;
    private int _tokensInWindow;
    private long _served;
    private long _tokens;
    private long _rejected;

    private StandInProvider(string name, int requestsPerWindow, int tokensPerWindow, TimeSpan window, WebApplication app)
    {
        Name = name;
        RequestsPerWindow = requestsPerWindow;
        TokensPerWindow = tokensPerWindow;
        _windowTicks = window.Ticks;
        _app = app;
    }

    public string Name { get; }

    public int RequestsPerWindow { get; }

    public int TokensPerWindow { get; }

    public Uri Address { get; private set; } = null!;

    public long Served => Interlocked.Read(ref _served);

    public long Tokens => Interlocked.Read(ref _tokens);

    public long Rejected => Interlocked.Read(ref _rejected);

    public static async Task<StandInProvider> StartAsync(string name, int requestsPerWindow, int tokensPerWindow, TimeSpan window)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        WebApplication app = builder.Build();
        var provider = new StandInProvider(name, requestsPerWindow, tokensPerWindow, window, app);
        app.MapPost("/v1/chat/completions", provider.CompleteAsync);
        await app.StartAsync();
        provider.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return provider;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task CompleteAsync(HttpContext context)
    {
        using JsonDocument body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        int promptTokens = body.RootElement.GetProperty("prompt_tokens").GetInt32();
        int maxTokens = body.RootElement.GetProperty("max_tokens").GetInt32();
        int completion = Math.Max(1, maxTokens * 3 / 4); // the answer uses three quarters of what it may
        int total = promptTokens + completion;
        if (!TryAdmit(total, out TimeSpan retryAfter))
        {
            Interlocked.Increment(ref _rejected);
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return;
        }

        Interlocked.Increment(ref _served);
        Interlocked.Add(ref _tokens, total);
        context.Response.ContentType = "text/event-stream";
        for (int i = 0; i < 3; i++)
        {
            await context.Response.WriteAsync($"data: {{\"delta\":\"{Name}-{i}\"}}\n\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }

        await context.Response.WriteAsync($"data: {{\"usage\":{{\"total_tokens\":{total}}}}}\n\ndata: [DONE]\n\n", context.RequestAborted);
    }

    private bool TryAdmit(int tokens, out TimeSpan retryAfter)
    {
        long now = DateTime.UtcNow.Ticks;
        lock (_gate)
        {
            while (_log.Count > 0 && _log.Peek().At <= now - _windowTicks)
            {
                _tokensInWindow -= _log.Dequeue().Tokens;
            }

            if (_log.Count + 1 > RequestsPerWindow || _tokensInWindow + tokens > TokensPerWindow)
            {
                retryAfter = _log.Count == 0 ? TimeSpan.Zero : TimeSpan.FromTicks(_log.Peek().At + _windowTicks - now);
                return false;
            }

            _log.Enqueue((now, tokens));
            _tokensInWindow += tokens;
            retryAfter = TimeSpan.Zero;
            return true;
        }
    }
}
