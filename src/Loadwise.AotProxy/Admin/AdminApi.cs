using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Router;

namespace Loadwise.AotProxy.Admin;

/// <summary>
/// The admin API and status page, served on the admin listener only (<c>Admin:Listen</c>):
/// <list type="bullet">
/// <item><c>GET /admin/</c>: the status page (one self-contained HTML page, no token needed: it holds no data);</item>
/// <item><c>GET /admin/backends</c>: every backend's health, admin state, in-flight requests and last minute;</item>
/// <item><c>POST /admin/backends/{id}/drain</c> and <c>/ready</c>: take a backend out of service and back;</item>
/// <item><c>GET /admin/config</c>: the configuration in force, secrets redacted;</item>
/// <item><c>POST /admin/reload</c>: re-read the configuration.</item>
/// </list>
/// With a token configured, every API call needs <c>Authorization: Bearer &lt;token&gt;</c>. A request from a browser
/// page of another origin (its <c>Origin</c> header) is refused, so that no web page can drain a backend through an
/// operator's browser. Without a token, an admin listener that other hosts can reach (not loopback) is read-only: the
/// changes and the configuration need a token there.
/// </summary>
/// <example><code>
/// var admin = new AdminApi(active, () => current.Options, ReloadAsync, SetDrainedAsync, () => token, clock, new Uri("http://127.0.0.1:9100"));
/// if (admin.Handles(context)) await admin.ServeAsync(context);
/// </code></example>
internal sealed class AdminApi(
    ActiveForwarder forwarders,
    Func<ProxyOptions> options,
    Func<string, Task<ReloadOutcome>> reload,
    Func<string, bool, Task<bool>> setDrained,
    Func<AdminToken?> token,
    TimeProvider time,
    Uri listen)
    : IDisposable
{
    private readonly bool _loopback = IsLoopback(listen);

    private ITimer? _sampler;

    /// <summary>The path prefix of the API and page.</summary>
    public const string Prefix = "/admin";

    private const string BackendsPath = "/admin/backends";

    /// <summary>Whether an admin listener URL (<c>Admin:Listen</c>) can be reached from this host only.</summary>
    public static bool IsLoopback(Uri listen) =>
        listen.IsLoopback || (IPAddress.TryParse(listen.Host.Trim('[', ']'), out IPAddress? address) && IPAddress.IsLoopback(address));

    /// <summary>Whether the request is the admin API's or page's.</summary>
    public static bool Handles(HttpContext context) =>
        context.Request.Path.StartsWithSegments(Prefix, StringComparison.Ordinal);

    /// <summary>Starts closing each second of the backends' last-minute figures (<see cref="BackendStats.Sample"/>).</summary>
    public void Start() =>
        _sampler ??= time.CreateTimer(static state => ((AdminApi)state!).Sample(), this, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

    public void Dispose() => _sampler?.Dispose();

    /// <summary>Closes the current second for every backend in force.</summary>
    internal void Sample()
    {
        long second = time.GetTimestamp() / time.TimestampFrequency;
        foreach (Backend backend in forwarders.Current.Backends)
        {
            backend.Stats.Sample(second);
        }
    }

    /// <summary>Answers one admin request.</summary>
    public Task ServeAsync(HttpContext context)
    {
        HttpRequest request = context.Request;
        string path = request.Path.Value ?? "";
        if (ForeignHost(request))
        {
            // DNS rebinding: a page of evil.example whose name now points at this listener is same-origin with it, so the
            // Origin check alone would let it through. Only an address, localhost or the configured name is served.
            return WriteErrorAsync(context, StatusCodes.Status421MisdirectedRequest, $"the Host header must be an IP address, localhost or {listen.Host}");
        }

        if (path is "/admin" or "/admin/")
        {
            return Only(context, HttpMethods.Get) ?? StatusPage.WriteAsync(context);
        }

        if (CrossOrigin(request))
        {
            return WriteErrorAsync(context, StatusCodes.Status403Forbidden, "a page of another origin may not call the admin API");
        }

        if (token() is { } required)
        {
            if (!required.Allows(request.Headers.Authorization))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                return WriteErrorAsync(context, StatusCodes.Status401Unauthorized, "send Authorization: Bearer <token> (Admin:TokenFile or Admin:TokenEnvironmentVariable)");
            }
        }
        else if (!_loopback && (!HttpMethods.IsGet(request.Method) || path == "/admin/config"))
        {
            return WriteErrorAsync(context, StatusCodes.Status403Forbidden, "this admin listener is reachable from other hosts and has no token: set Admin:TokenFile or Admin:TokenEnvironmentVariable to allow changes and /admin/config, or listen on 127.0.0.1");
        }

        switch (path)
        {
            case BackendsPath:
                return Only(context, HttpMethods.Get) ?? WriteAsync(context, StatusCodes.Status200OK, Backends(), AdminJsonContext.Default.BackendsView);
            case "/admin/config":
                return Only(context, HttpMethods.Get) ?? WriteConfigAsync(context);
            case "/admin/reload":
                return Only(context, HttpMethods.Post) ?? ReloadAsync(context);
        }

        if (path.StartsWith(BackendsPath + "/", StringComparison.Ordinal))
        {
            string[] parts = path[(BackendsPath.Length + 1)..].Split('/');
            if (parts is [string id, "drain" or "ready"] && id.Length > 0)
            {
                return Only(context, HttpMethods.Post) ?? SetDrainedAsync(context, Uri.UnescapeDataString(id), parts[1] == "drain");
            }
        }

        return WriteErrorAsync(context, StatusCodes.Status404NotFound, "no such admin resource; see /admin/ for the page and docs/proxy/operations.md for the API");
    }

    /// <summary>Gets every backend of the configuration in force, with its last minute.</summary>
    public BackendsView Backends()
    {
        Forwarder forwarder = forwarders.Current;
        var views = new BackendView[forwarder.Backends.Count];
        for (int i = 0; i < views.Length; i++)
        {
            views[i] = View(forwarder.Backends[i]);
        }

        return new BackendsView(time.GetUtcNow(), forwarder.StrategyName, forwarders.InFlight, views);
    }

    private static BackendView View(Backend backend)
    {
        BackendStats.Window minute = backend.Stats.LastMinute();
        (string Message, DateTimeOffset At)? error = backend.Stats.LastError;
        string url = backend.Url.UserInfo.Length > 0 ? backend.Url.ToString().Replace(backend.Url.UserInfo + "@", "***@", StringComparison.Ordinal) : backend.Url.ToString();
        return new BackendView(
            backend.Id,
            url,
            backend.Weight,
            (backend.Health?.Status ?? HealthStatus.Healthy).ToName(),
            backend.AdminState,
            backend.InFlight,
            Math.Round(minute.Rate, 2),
            minute.Quantile(0.5),
            minute.Quantile(0.99),
            minute.Requests,
            minute.Errors,
            error?.Message,
            error?.At,
            minute.PerSecond);
    }

    private async Task SetDrainedAsync(HttpContext context, string id, bool drained)
    {
        // Through the server, under its reload gate: a reload in progress copies every drain flag it finds.
        if (!await setDrained(id, drained).ConfigureAwait(false))
        {
            await WriteErrorAsync(context, StatusCodes.Status404NotFound, $"no backend '{id}'; GET /admin/backends lists them").ConfigureAwait(false);
            return;
        }

        Backend backend = forwarders.Current.Backends.First(b => b.Id == id);
        await WriteAsync(context, StatusCodes.Status200OK, View(backend), AdminJsonContext.Default.BackendView).ConfigureAwait(false);
    }

    private async Task ReloadAsync(HttpContext context)
    {
        ReloadOutcome outcome = await reload("POST /admin/reload").ConfigureAwait(false);
        await WriteAsync(context, outcome.Applied ? StatusCodes.Status200OK : StatusCodes.Status422UnprocessableEntity, outcome, AdminJsonContext.Default.ReloadOutcome).ConfigureAwait(false);
    }

    private Task WriteConfigAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(ProxyOptionsJson.Redacted(options()).ToJsonString(new JsonSerializerOptions { WriteIndented = true, TypeInfoResolver = ProxyOptionsJsonContext.Default }), context.RequestAborted);
    }

    /// <summary>Null when the request's method is <paramref name="method"/>; otherwise the 405 answer.</summary>
    private static Task? Only(HttpContext context, string method)
    {
        if (string.Equals(context.Request.Method, method, StringComparison.Ordinal))
        {
            return null;
        }

        context.Response.Headers.Allow = method;
        return WriteErrorAsync(context, StatusCodes.Status405MethodNotAllowed, $"use {method}");
    }

    private bool ForeignHost(HttpRequest request)
    {
        string host = request.Host.Host;
        return !(IPAddress.TryParse(host.Trim('[', ']'), out _)
            || string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
            || string.Equals(host, listen.IdnHost, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Whether a browser sent this from a page of another origin (the admin page's own calls are same-origin).</summary>
    private static bool CrossOrigin(HttpRequest request)
    {
        string? origin = request.Headers.Origin;
        return origin is not null && !string.Equals(origin, "http://" + request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    private static Task WriteErrorAsync(HttpContext context, int status, string error) =>
        WriteAsync(context, status, new ErrorView(error), AdminJsonContext.Default.ErrorView);

    private static async Task WriteAsync<T>(HttpContext context, int status, T value, JsonTypeInfo<T> type)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await JsonSerializer.SerializeAsync(context.Response.Body, value, type, context.RequestAborted).ConfigureAwait(false);
    }
}
