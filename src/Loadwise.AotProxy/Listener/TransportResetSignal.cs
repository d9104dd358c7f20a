using System.Net.Sockets;

namespace Loadwise.AotProxy.Listener;

/// <summary>
/// Tells apart, on Kestrel's socket transport, a client that reset its connection from one that only half-closed it:
/// the transport's connection-closed token fires for both, and only a reset (or a broken socket) should cancel the
/// request, since a client that half-closed after its request still waits for the answer (RFC 9112 section 9.6).
/// </summary>
/// <example><code>
/// using var reset = new TransportResetSignal(socket, context.ConnectionClosed);
/// await RelayAsync(reset.Token);
/// </code></example>
internal sealed class TransportResetSignal : IDisposable
{
    // getsockopt(IPPROTO_TCP, TCP_INFO): the first byte of struct tcp_info is the connection's state.
    private const int TcpLevel = 6;
    private const int TcpInfo = 11;
    private const byte TcpCloseWait = 8;

    private readonly Socket _socket;
    private readonly CancellationTokenSource _source = new();
    private readonly CancellationTokenRegistration _registration;

    public TransportResetSignal(Socket socket, CancellationToken connectionClosed)
    {
        _socket = socket;
        _registration = connectionClosed.UnsafeRegister(static state => ((TransportResetSignal)state!).OnClosed(), this);
    }

    /// <summary>Gets the token that fires when the client's connection broke (not on a half-close).</summary>
    public CancellationToken Token => _source.Token;

    public void Dispose()
    {
        // Waits for a callback that is running, so the source is never cancelled after it was disposed.
        _registration.Dispose();
        _source.Dispose();
    }

    /// <summary>Whether the peer only half-closed: the socket still open, in CLOSE_WAIT. Outside Linux it cannot tell, and says so.</summary>
    internal static bool OnlyHalfClosed(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            // No portable way to read the state: a reset is then found when the answer cannot be sent (as HAProxy does).
            return true;
        }

        Span<byte> info = stackalloc byte[8];
        try
        {
            return socket.GetRawSocketOption(TcpLevel, TcpInfo, info) > 0 && info[0] == TcpCloseWait;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    private void OnClosed()
    {
        if (!OnlyHalfClosed(_socket))
        {
            _source.Cancel();
        }
    }
}
