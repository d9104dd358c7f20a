using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;
using static Loadwise.AotProxy.Listener.LoopNative;

namespace Loadwise.AotProxy.Listener;

/// <summary>
/// A connected, non-blocking TCP socket on an event loop, registered once (edge-triggered, reads and writes). A receive
/// or send is tried at once and waits for the loop's next edge only when the kernel had nothing (or no room); the
/// continuation then runs on the loop's thread. After a short read the socket is known drained, so the next receive
/// waits for an edge without a system call that would only say EAGAIN. One receive and one send may run at a time.
/// Only the owner closes the descriptor (<see cref="Dispose"/>), when none of its operations is running; any thread
/// may <see cref="Abort"/>, which shuts the socket down and wakes what waits.
/// </summary>
/// <example><code>
/// LoopSocket socket = await LoopSocket.ConnectAsync(group.Next(), new IPEndPoint(IPAddress.Loopback, 8080), token);
/// await socket.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n"u8.ToArray(), token);
/// int read = await socket.ReceiveAsync(buffer, token); // 0: the peer closed
/// socket.Dispose();
/// </code></example>
internal sealed partial class LoopSocket : LoopHandle, IDisposable, IValueTaskSource<int>
{

    private readonly Readiness _read = new();
    private readonly Readiness _write = new();
    private readonly Lock _closeLock = new();
    private readonly bool _accepted;
    private int _drainedAt = -1;
    private volatile bool _closed;
    private Action<object?>? _onBroken;
    private object? _onBrokenState;
    private int _peerClosed;
    private int _broken;

    /// <summary>
    /// Takes ownership of descriptor <paramref name="fd"/> (connected, or its connect started) and registers it with
    /// <paramref name="worker"/>; an <paramref name="accepted"/> one counts in the worker's
    /// <see cref="EventLoopWorker.ClientConnections"/> until it is disposed.
    /// </summary>
    public LoopSocket(EventLoopWorker worker, int fd, IPEndPoint? remote, bool accepted = false)
    {
        Fd = fd;
        Worker = worker;
        RemoteEndPoint = remote;
        worker.Register(this, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
        if (accepted)
        {
            _accepted = true;
            worker.ClientConnectionOpened();
        }
    }

    /// <summary>Gets the peer's address (null when the kernel gave none).</summary>
    public IPEndPoint? RemoteEndPoint { get; }

    /// <summary>Gets whether the peer closed its side or the connection broke (EPOLLRDHUP, HUP or ERR seen).</summary>
    public bool PeerClosed => Volatile.Read(ref _peerClosed) == 1;

    /// <summary>Gets whether the connection broke: reset by the peer, or shut down both ways (EPOLLHUP or EPOLLERR seen).</summary>
    public bool Broken => Volatile.Read(ref _broken) == 1;

    /// <summary>
    /// Sets what runs once (on the loop thread) when the connection breaks (<see cref="Broken"/>), even while nothing
    /// is reading. A peer that only half-closes (a FIN: it sent its request and waits for the answer) does not break
    /// it, as HAProxy keeps serving such a client: its end of stream is read as such, and its answer still goes out.
    /// </summary>
    public void OnBroken(Action<object?> callback, object? state)
    {
        _onBrokenState = state;
        Volatile.Write(ref _onBroken, callback);
        if (Broken)
        {
            RaiseBroken();
        }
    }

    /// <summary>
    /// One recv, made only when data may be there: the count (0 at the peer's close), or -1 when the kernel has nothing
    /// now, or is known to have nothing (a short read or EAGAIN and no edge since <paramref name="seen"/>).
    /// </summary>
    public unsafe int TryReceive(Span<byte> buffer, int seen)
    {
        ThrowIfClosed();
        if (seen == _drainedAt)
        {
            return -1;
        }

        while (true)
        {
            nint read;
            fixed (byte* bytes = buffer)
            {
                read = recv(Fd, bytes, (nuint)buffer.Length, 0);
            }

            if (read >= 0)
            {
                if (read < buffer.Length && read > 0 && !PeerClosed)
                {
                    // Short: the kernel's queue is empty now, and the next data brings an edge. Not so once the peer
                    // closed: its end of stream may have come with the same edge as these bytes, and no edge follows
                    // it (the loop records the close before it counts the edge, so a reader that saw the edge sees it).
                    _drainedAt = seen;
                }

                return (int)read;
            }

            int errno = Errno;
            if (errno == EAGAIN)
            {
                _drainedAt = seen;
                return -1;
            }

            if (errno != EINTR)
            {
                throw Failed("recv", errno);
            }
        }
    }

    /// <summary>
    /// Returns true when the socket has bytes to read, or the peer closed it, or it broke: what an idle pooled
    /// connection must not have before it carries another request. Always one non-blocking peek: the loop's own count
    /// of read edges may not have caught up yet (the edge can still be waiting in epoll while another thread rents the
    /// connection), so it cannot tell that no bytes came.
    /// </summary>
    public unsafe bool HasInputOrEnded()
    {
        if (_closed || PeerClosed)
        {
            return true;
        }

        byte probe;
        nint read = recv(Fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        return read >= 0 || Errno != EAGAIN;
    }

    /// <summary>
    /// Copies up to <paramref name="destination"/>'s length of the bytes waiting to be read, without taking them: their
    /// count, 0 when none wait, -1 when the peer closed or the socket broke. One non-blocking peek.
    /// </summary>
    public unsafe int Peek(Span<byte> destination)
    {
        if (_closed)
        {
            return -1;
        }

        nint read;
        fixed (byte* start = destination)
        {
            read = recv(Fd, start, (nuint)destination.Length, MSG_PEEK | MSG_DONTWAIT);
        }

        return read > 0 ? (int)read : read == 0 || Errno != EAGAIN || PeerClosed ? -1 : 0;
    }

    /// <summary>Sends all of <paramref name="data"/>; completes at once when the kernel took it all in one call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        int seen = _write.Sequence;
        int sent = TrySend(data.Span);
        return sent == data.Length ? default : SendRestAsync(data[sent..], seen, cancellationToken);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendRestAsync(ReadOnlyMemory<byte> rest, int seen, CancellationToken cancellationToken)
    {
        while (!rest.IsEmpty)
        {
            await _write.WaitAsync(seen, cancellationToken).ConfigureAwait(false);
            seen = _write.Sequence;
            rest = rest[TrySend(rest.Span)..];
        }
    }

    /// <summary>
    /// Sends all of <paramref name="head"/> and then <paramref name="body"/>, in one gather send when the kernel takes
    /// them (a request head and a body held elsewhere, without copying the body behind the head).
    /// </summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> head, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        int seen = _write.Sequence;
        int sent = TrySend(head.Span, body.Span);
        if (sent >= head.Length)
        {
            return sent - head.Length == body.Length ? default : SendRestAsync(body[(sent - head.Length)..], seen, cancellationToken);
        }

        return SendBothRestAsync(head[sent..], body, seen, cancellationToken);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private async ValueTask SendBothRestAsync(ReadOnlyMemory<byte> head, ReadOnlyMemory<byte> body, int seen, CancellationToken cancellationToken)
    {
        await SendRestAsync(head, seen, cancellationToken).ConfigureAwait(false);
        await SendAsync(body, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One non-blocking gather send of two buffers: the bytes the kernel took from both, 0 when it had no room.</summary>
    public unsafe int TrySend(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        ThrowIfClosed();
        IoVector* vectors = stackalloc IoVector[2];
        while (true)
        {
            nint sent;
            fixed (byte* a = first)
            fixed (byte* b = second)
            {
                vectors[0] = new IoVector { Base = a, Length = (nuint)first.Length };
                vectors[1] = new IoVector { Base = b, Length = (nuint)second.Length };
                MessageHeader message = default;
                message.Vectors = vectors;
                message.VectorCount = 2;
                sent = sendmsg(Fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
            }

            if (sent >= 0 || !Interrupted())
            {
                return (int)Math.Max(sent, 0);
            }
        }
    }

    /// <summary>
    /// After a send that returned -1: true when a signal interrupted it (send again); false when the kernel had no room
    /// (the caller reports 0 bytes taken). Any other error throws.
    /// </summary>
    private bool Interrupted()
    {
        int errno = Errno;
        if (errno == EAGAIN)
        {
            return false;
        }

        return errno == EINTR ? true : throw Failed("send", errno);
    }

    /// <summary>One non-blocking send: the bytes the kernel took, 0 when it had no room.</summary>
    public unsafe int TrySend(ReadOnlySpan<byte> data)
    {
        ThrowIfClosed();
        while (true)
        {
            nint sent;
            fixed (byte* bytes = data)
            {
                sent = send(Fd, bytes, (nuint)data.Length, MSG_DONTWAIT | MSG_NOSIGNAL);
            }

            if (sent >= 0 || !Interrupted())
            {
                return (int)Math.Max(sent, 0);
            }
        }
    }

    /// <summary>
    /// Breaks the connection from any thread: shuts the socket down both ways (the descriptor stays open until the
    /// owner's <see cref="Dispose"/>), so a waiting receive sees the end and a waiting send an error.
    /// </summary>
    public void Abort()
    {
        lock (_closeLock)
        {
            if (!_closed)
            {
                shutdown(Fd, SHUT_RDWR);
            }
        }
    }

    public override void OnEvents(uint events)
    {
        if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)
        {
            Volatile.Write(ref _peerClosed, 1);
        }

        if ((events & (EPOLLHUP | EPOLLERR)) != 0 && Interlocked.Exchange(ref _broken, 1) == 0)
        {
            RaiseBroken();
        }

        if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0)
        {
            _read.Signal();
        }

        if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0)
        {
            _write.Signal();
        }
    }

    private void RaiseBroken()
    {
        if (Interlocked.Exchange(ref _onBroken, null) is { } callback)
        {
            callback(_onBrokenState);
        }
    }

    private void ThrowIfClosed()
    {
        if (_closed)
        {
            ThrowClosed();
        }
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowClosed() => throw new ConnectionAbortedException("the connection was closed");

    /// <summary>Unregisters and closes the descriptor; an operation still waiting fails. Only the owner calls it, once its operations are over.</summary>
    public void Dispose()
    {
        lock (_closeLock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            Worker.Unregister(this);
            close(Fd);
            if (_accepted)
            {
                Worker.ClientConnectionClosed();
            }
        }

        var closed = new ConnectionAbortedException("the connection was closed");
        _read.Fail(closed);
        _write.Fail(closed);
    }
}
