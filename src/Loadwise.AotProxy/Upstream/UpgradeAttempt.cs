using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Health;
using Loadwise.AotProxy.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Loadwise.AotProxy.Upstream;

/// <summary>
/// One WebSocket upgrade (RFC 6455 section 4, RFC 9110 section 7.8) through HttpClient: the request goes to the backend
/// over HTTP/1.1 with its Upgrade and Connection headers; a 101 is relayed to the client (Kestrel writes it) and the two
/// connections are then spliced both ways, each byte as it comes, until either side closes or neither sends a byte
/// for the idle timeout. Any other answer is relayed as an ordinary response. The upgraded connection is never
/// pooled: HttpClient hands it over and it closes with the tunnel.
/// </summary>
/// <example><code>
/// using var upgrades = new UpgradeAttempt(settings, health);
/// if (UpgradeAttempt.IsWebSocketUpgrade(context)) { AttemptResult result = await upgrades.ForwardAsync(context, backend, target); }
/// </code></example>
internal sealed class UpgradeAttempt(UpstreamSettings settings, BackendHealth health) : IDisposable
{
    private const int BufferSize = 16 * 1024;
    private readonly HttpMessageInvoker _invoker = new(HttpClientAttempt.CreateHandler(settings), disposeHandler: true);

    /// <summary>
    /// Returns true for an HTTP/1.1 request Kestrel can upgrade whose Upgrade header asks for websocket. Other upgrade
    /// tokens (h2c, TLS) are not tunnelled: their Upgrade header is dropped as hop-by-hop, as before.
    /// </summary>
    public static bool IsWebSocketUpgrade(HttpContext? context) =>
        context?.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
        && HttpMethods.IsGet(context.Request.Method)
        && context.Request.Headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase);

    /// <summary>Forwards the upgrade request and, on a 101, runs the tunnel until it closes.</summary>
    public async ValueTask<AttemptResult> ForwardAsync(HttpContext context, Backend backend, UpstreamTarget target)
    {
        using var headersTimeout = new CancellationTokenSource(settings.ResponseHeadersTimeout, settings.Clock.Time);
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, headersTimeout.Token);
        using HttpRequestMessage upstream = HttpClientAttempt.CreateUpstreamRequest(context, backend, target, null, static () => { });
        // Upgrade has no meaning in HTTP/2 (RFC 9113 section 8.6): HTTP/1.1 to the backend whatever it is marked.
        upstream.Version = HttpVersion.Version11;
        upstream.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
        upstream.Headers.TryAddWithoutValidation("Connection", "Upgrade");
        upstream.Headers.TryAddWithoutValidation("Upgrade", context.Request.Headers.Upgrade.ToString());

        HttpResponseMessage response;
        try
        {
            response = await _invoker.SendAsync(upstream, cancellation.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            if (context.RequestAborted.IsCancellationRequested)
            {
                return AttemptResult.ClientGone;
            }

            health.ReportPassive(backend, Outcome.Failure);
            FailureStage stage = headersTimeout.IsCancellationRequested ? FailureStage.Timeout
                : e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } ? FailureStage.Connect
                : FailureStage.NoResponse;
            return AttemptClassifier.Classify(stage, e.Message, idempotent: true, hasBody: false, bodyStarted: false);
        }

        using (response)
        {
            long headersAt = settings.Clock.Timestamp;
            int status = (int)response.StatusCode;
            health.ReportPassive(backend, health.Classify(status, response.Headers));
            HttpClientAttempt.CopyResponseHeaders(response, context.Response.Headers, bodiless: status == StatusCodes.Status101SwitchingProtocols);
            try
            {
                Stream backendStream = await response.Content.ReadAsStreamAsync(context.RequestAborted).ConfigureAwait(false);
                await using (backendStream.ConfigureAwait(false))
                {
                    if (status != StatusCodes.Status101SwitchingProtocols)
                    {
                        // Refused (401, 426, a plain 200 from a backend that does not speak WebSocket): relayed as it is.
                        context.Response.StatusCode = status;
                        using var deadline = new ReadDeadline(context.RequestAborted, settings.ResponseBodyIdleTimeout, settings.Clock);
                        long bytes = await BodyCopy.CopyAsync(backendStream, context.Response.Body, deadline).ConfigureAwait(false);
                        return AttemptResult.Completed(status, bytes, headersAt);
                    }

                    context.Response.Headers.Upgrade = response.Headers.NonValidated.TryGetValues("Upgrade", out HeaderStringValues upgrade) ? upgrade.ToString() : "websocket";
                    Stream client = await context.Features.Get<IHttpUpgradeFeature>()!.UpgradeAsync().ConfigureAwait(false);
                    await SpliceAsync(client, backendStream, context.RequestAborted).ConfigureAwait(false);
                    // A tunnel's bytes are not a response body: the access log shows 0 for it.
                    return AttemptResult.Completed(status, 0, headersAt);
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or HttpRequestException)
            {
                return context.RequestAborted.IsCancellationRequested ? AttemptResult.ClientGone : AttemptResult.Failed(e.Message);
            }
        }
    }

    public void Dispose() => _invoker.Dispose();

    /// <summary>Copies both ways until one side ends, fails or the idle timeout passes; then both are closed.</summary>
    private async Task SpliceAsync(Stream client, Stream backend, CancellationToken clientGone)
    {
        using var idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, settings.Clock.Time);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(idle.Token, clientGone);
        TimeSpan limit = settings.TunnelIdleTimeout;
        Rearm(idle, limit);
        Task up = PumpAsync(client, backend, idle, limit, stop.Token);
        Task down = PumpAsync(backend, client, idle, limit, stop.Token);
        await Task.WhenAny(up, down).ConfigureAwait(false);
        // One side is done: a WebSocket's close frames have crossed by now (or the peer vanished); end the other.
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(up, down).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private static async Task PumpAsync(Stream from, Stream to, CancellationTokenSource idle, TimeSpan limit, CancellationToken stop)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, stop).ConfigureAwait(false)) > 0)
            {
                Rearm(idle, limit);
                await to.WriteAsync(buffer.AsMemory(0, read), stop).ConfigureAwait(false);
                await to.FlushAsync(stop).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void Rearm(CancellationTokenSource idle, TimeSpan limit)
    {
        if (limit > TimeSpan.Zero)
        {
            try
            {
                idle.CancelAfter(limit);
            }
            catch (ObjectDisposedException)
            {
                // The tunnel is closing.
            }
        }
    }
}
