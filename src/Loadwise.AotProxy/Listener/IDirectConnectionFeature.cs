using System.IO.Pipelines;

namespace Loadwise.AotProxy.Listener;

/// <summary>
/// A connection feature of the proxy's own transport: its socket, and a reader straight over it, for a connection
/// middleware that reads requests and writes responses itself instead of through Kestrel's pipes. A connection whose
/// middleware never uses it runs on the pipes as on any transport.
/// </summary>
/// <example><code>
/// if (context.Features.Get&lt;IDirectConnectionFeature&gt;() is { } direct)
/// {
///     ReadResult result = await direct.Input.ReadAsync();
///     await direct.Socket.SendAsync(response, token);
/// }
/// </code></example>
internal interface IDirectConnectionFeature
{
    /// <summary>Gets a reader straight over the socket (until the connection's pipes are asked for).</summary>
    PipeReader Input { get; }

    /// <summary>Gets the socket, to send on directly.</summary>
    ConnectionSocket Socket { get; }
}
