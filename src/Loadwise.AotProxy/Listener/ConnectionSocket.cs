using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Loadwise.AotProxy.Listener;

/// <summary>
/// The socket of a client or backend connection: one on the proxy's event loop (<see cref="LoopSocket"/>), or one of
/// the runtime's (Kestrel's socket transport, or the event loop off). The one place that picks between them.
/// </summary>
/// <example><code>
/// var socket = new ConnectionSocket(loopSocket);
/// await socket.SendAsync(requestHead, token);
/// int read = await socket.ReceiveAsync(buffer, token);
/// </code></example>
internal readonly struct ConnectionSocket
{
    private readonly LoopSocket? _loop;
    private readonly Socket? _socket;

    public ConnectionSocket(LoopSocket socket) => _loop = socket;

    public ConnectionSocket(Socket socket) => _socket = socket;

    /// <summary>Sends all of <paramref name="data"/>; completes at once when the kernel took it all in one call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        _loop is { } loop ? loop.SendAsync(data, cancellationToken) : SocketSends.SendAsync(_socket!, data, cancellationToken);

    /// <summary>Sends all of <paramref name="head"/>, then all of <paramref name="body"/>: one gather send on the event loop.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> head, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
        _loop is { } loop ? loop.SendAsync(head, body, cancellationToken) : SendInTurnAsync(_socket!, head, body, cancellationToken);

    /// <summary>Receives into <paramref name="buffer"/>: the count, 0 when the peer closed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _loop is { } loop ? loop.ReceiveAsync(buffer, cancellationToken) : _socket!.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    /// <summary>
    /// Returns true when the socket has bytes to read, or the peer closed it, or it broke (checked on an idle pooled
    /// connection: any of these means it cannot carry another request).
    /// </summary>
    public bool HasInputOrEnded()
    {
        if (_loop is { } loop)
        {
            return loop.HasInputOrEnded();
        }

        try
        {
            return _socket!.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>
    /// Copies up to <paramref name="destination"/>'s length of the bytes waiting to be read, without taking them: their
    /// count, 0 when none wait, -1 when the peer closed or the socket broke.
    /// </summary>
    public int Peek(Span<byte> destination)
    {
        if (_loop is { } loop)
        {
            return loop.Peek(destination);
        }

        try
        {
            if (!_socket!.Poll(0, SelectMode.SelectRead))
            {
                return 0;
            }

            // Readable with nothing to read: the peer closed, or the socket broke.
            return _socket.Available == 0 ? -1 : _socket.Receive(destination, SocketFlags.Peek);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return -1;
        }
    }

    private static async ValueTask SendInTurnAsync(Socket socket, ReadOnlyMemory<byte> head, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        await SocketSends.SendAsync(socket, head, cancellationToken).ConfigureAwait(false);
        await SocketSends.SendAsync(socket, body, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the socket.</summary>
    public void Dispose()
    {
        _socket?.Dispose();
        _loop?.Dispose();
    }
}
