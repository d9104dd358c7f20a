using System.Net;
using System.Net.Sockets;
using static Loadwise.AotProxy.Listener.LoopNative;

namespace Loadwise.AotProxy.Listener;

/// <summary>Opening a connection on the loop: a non-blocking connect, registered once it has started.</summary>
internal sealed partial class LoopSocket
{
    /// <summary>Opens a non-blocking TCP connection on <paramref name="worker"/>; fails with <see cref="SocketException"/>.</summary>
    public static async ValueTask<LoopSocket> ConnectAsync(EventLoopWorker worker, IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        int fd = socket(endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd < 0)
        {
            throw Failed("socket", Errno);
        }

        LoopSocket connection;
        bool connected;
        try
        {
            SetOption(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
            // Registered only once the connect has started: a socket not yet connecting reports HUP (state CLOSE),
            // which would read as a peer that closed. Adding reports the state the socket is in by then, so a connect
            // that finished in between is not missed.
            connected = StartConnect(fd, endPoint);
            connection = new LoopSocket(worker, fd, endPoint);
        }
        catch
        {
            close(fd);
            throw;
        }

        try
        {
            if (!connected)
            {
                await connection._write.WaitAsync(0, cancellationToken).ConfigureAwait(false);
                connection.ThrowIfConnectFailed();
            }

            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static unsafe bool StartConnect(int fd, IPEndPoint endPoint)
    {
        SocketAddressBuffer address;
        uint length = Write(endPoint, &address);
        while (connect(fd, &address, length) != 0)
        {
            int errno = Errno;
            if (errno == EINPROGRESS)
            {
                return false;
            }

            if (errno != EINTR)
            {
                throw Failed($"connect to {endPoint}", errno);
            }
        }

        return true;
    }

    private unsafe void ThrowIfConnectFailed()
    {
        int error = 0;
        uint length = sizeof(int);
        if (getsockopt(Fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0)
        {
            error = Errno;
        }

        if (error != 0)
        {
            throw Failed($"connect to {RemoteEndPoint}", error);
        }
    }
}
