using Loadwise.AotProxy.Listener;
using Loadwise.AotProxy.Router;
using Loadwise.AotProxy.Threading;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Loadwise.AotProxy.Downstream;

/// <summary>Settings of the HTTP/1.1 codec, taken from the proxy's configuration and Kestrel's limits.</summary>
/// <param name="Limits">The request-head limits (Kestrel's, so the answer does not depend on the path).</param>
/// <param name="KeepAliveTimeout">How long an idle connection waits for its next request.</param>
/// <param name="RequestHeadersTimeout">How long a request head may take to arrive once it has begun.</param>
/// <param name="HandOffPaths">Paths (exact, before any query) always left to Kestrel's HTTP layer.</param>
/// <param name="MinResponseDataRate">The slowest a client may read its response, or null for no limit.</param>
internal sealed record Http1CodecSettings(
    RequestHeadLimits Limits,
    TimeSpan KeepAliveTimeout,
    TimeSpan RequestHeadersTimeout,
    string[] HandOffPaths,
    MinDataRate? MinResponseDataRate)
{
    /// <summary>Gets the largest body read whole before the first attempt (so that a retry can send it again); larger ones stream.</summary>
    public long MaxBufferedBodyBytes { get; init; } = 64 * 1024;

    /// <summary>Gets the slowest a client may send its body (Kestrel's rule: after the grace period), or null for the headers timeout between reads.</summary>
    public MinDataRate? MinRequestBodyDataRate { get; init; }
}

/// <summary>
/// The proxy's own HTTP/1.1 codec: a connection middleware in front of Kestrel's HTTP layer. Each request head is
/// parsed in place by <see cref="RequestHead"/>; a request it accepts (a common method, no body or one framed by a
/// single Content-Length) is handed to the router from those bytes and the backend's response written straight back,
/// with no HttpContext, header dictionary or strings per request. The first request it is not sure of hands the
/// connection, that request's bytes still unread, to Kestrel's HTTP layer for good, so everything else (chunked
/// bodies, Expect, limits, errors, HTTP/2) is Kestrel's.
/// </summary>
/// <example><code>
/// var codec = new Http1Codec(activeForwarder, settings, clock);
/// listenOptions.Use(next => context => codec.RunAsync(context, next));
/// </code></example>
internal sealed class Http1Codec(ActiveForwarder forwarders, Http1CodecSettings settings, ProxyClock clock)
{
    private readonly PerCoreCells _served = new(1);
    private long _handedOff;
    private long _outputsReturned;

    /// <summary>Gets the forwarder of the configuration in force (read once per request: a reload is seen by the next one).</summary>
    public ActiveForwarder Forwarders => forwarders;

    public Http1CodecSettings Settings => settings;

    /// <summary>Gets the clock the codec's timeouts are measured on.</summary>
    public ProxyClock Clock => clock;

    /// <summary>Gets how many connections the codec handed to Kestrel's HTTP layer.</summary>
    public long HandedOff => Volatile.Read(ref _handedOff);

    /// <summary>Gets how many requests the codec served itself.</summary>
    public long Served => _served.Sum(0);

    /// <summary>Gets how many parked response buffers heartbeats gave back from connections waiting for a request.</summary>
    public long OutputsReturned => Volatile.Read(ref _outputsReturned);

    internal void OnServed() => _served.Add(0, 1);

    internal void OnOutputReturned() => Interlocked.Increment(ref _outputsReturned);

    /// <summary>Serves one connection, handing it to <paramref name="next"/> (Kestrel's HTTP layer) when a request needs that.</summary>
    public async Task RunAsync(ConnectionContext context, ConnectionDelegate next)
    {
        IConnectionHeartbeatFeature? heartbeat = context.Features.Get<IConnectionHeartbeatFeature>();
        IConnectionLifetimeNotificationFeature? lifetime = context.Features.Get<IConnectionLifetimeNotificationFeature>();
        IDirectConnectionFeature? direct = context.Features.Get<IDirectConnectionFeature>();
        System.Net.Sockets.Socket? socket = direct is null ? context.Features.Get<IConnectionSocketFeature>()?.Socket : null;
        if (heartbeat is null || lifetime is null || (socket is null && direct is null))
        {
            // Without Kestrel's heartbeat the codec could not enforce its timeouts, and without the socket (another
            // transport) it could not answer.
            await next(context).ConfigureAwait(false);
            return;
        }

        // Kestrel's socket transport fires the connection-closed token on a half-close too, so there a signal tells a
        // reset apart: a client that sent its request and half-closed still gets its answer, and one that reset its
        // connection ends its request (and the backend's) at once. The proxy's own transport fires it only when the
        // connection breaks.
        using TransportResetSignal? reset = direct is null ? new TransportResetSignal(socket!, context.ConnectionClosed) : null;
        var connection = direct is not null
            ? new Http1ClientConnection(this, context, direct.Input, direct.Socket, context.ConnectionClosed, heartbeat, lifetime)
            : new Http1ClientConnection(this, context, context.Transport.Input, new ConnectionSocket(socket!), reset!.Token, heartbeat, lifetime);
        bool done;
        try
        {
            done = await connection.ServeAsync().ConfigureAwait(false);
        }
        finally
        {
            connection.Dispose();
        }

        if (!done)
        {
            Interlocked.Increment(ref _handedOff);
            await next(context).ConfigureAwait(false);
        }
    }
}
