using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;
using static Loadwise.AotProxy.Listener.LoopNative;

namespace Loadwise.AotProxy.Listener;

/// <summary>A descriptor registered with one <see cref="EventLoopWorker"/>'s epoll: what the loop calls on its events.</summary>
internal abstract class LoopHandle
{
    /// <summary>Gets the descriptor.</summary>
    public int Fd { get; protected init; }

    /// <summary>Gets the worker whose epoll holds the descriptor.</summary>
    public EventLoopWorker Worker { get; protected init; } = null!;

    /// <summary>Gets or sets the handle's slot in its worker's table (the low half of its epoll data).</summary>
    internal int Slot { get; set; }

    /// <summary>Gets or sets the handle's generation (the high half of its epoll data): a stale event for a reused slot is dropped.</summary>
    internal uint Generation { get; set; }

    /// <summary>Handles the events epoll reported for the descriptor, on the worker's thread.</summary>
    public abstract void OnEvents(uint events);
}

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
internal sealed class LoopSocket : LoopHandle, IDisposable, IValueTaskSource<int>
{
    private static readonly Action<object?> OnReceivableCallback = static state => ((LoopSocket)state!).OnReceivable();

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
    private ManualResetValueTaskSourceCore<int> _receiving;
    private Memory<byte> _receiveBuffer;
    private CancellationToken _receiveToken;
    private CancellationTokenRegistration _receiveCancellation;

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

    /// <summary>Gets the count of read edges so far: read it before <see cref="TryReceive"/>, pass it to <see cref="WaitReadableAsync"/>.</summary>
    public int ReadSequence => _read.Sequence;

    /// <summary>Receives into <paramref name="buffer"/>: the count, 0 when the peer closed; waits for data when there is none yet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int seen = _read.Sequence;
        int read = TryReceive(buffer.Span, seen);
        return read >= 0 ? new ValueTask<int>(read) : ReceiveWhenReadableAsync(buffer, seen, cancellationToken);
    }

    /// <summary>
    /// The receive that waits: one reusable source per socket (<see cref="IValueTaskSource{TResult}"/>) completed by the
    /// loop's read callback, instead of an async method and its box per wait. A cancellation completes it only if it
    /// takes the callback back from <see cref="Readiness"/> first, so it never races a recv into the same buffer.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<int> ReceiveWhenReadableAsync(Memory<byte> buffer, int seen, CancellationToken cancellationToken)
    {
        _receiving.Reset();
        short version = _receiving.Version;
        _receiveBuffer = buffer;
        _receiveToken = cancellationToken;
        if (!_read.WaitThen(seen, OnReceivableCallback, this))
        {
            OnReceivable();
        }

        // Registered once the callback waits (a token cancelled already cancels at once). GetResult, which comes only
        // after this method returned, unregisters it.
        if (cancellationToken.CanBeCanceled && _receiving.GetStatus(version) == ValueTaskSourceStatus.Pending)
        {
            _receiveCancellation = cancellationToken.UnsafeRegister(static state => ((LoopSocket)state!).CancelReceive(), this);
        }

        return new ValueTask<int>(this, version);
    }

    /// <summary>At a read edge (on the loop, inline), or at once when one came meanwhile: receives, or waits again.</summary>
    private void OnReceivable()
    {
        while (true)
        {
            int seen = _read.Sequence;
            int read;
            try
            {
                read = TryReceive(_receiveBuffer.Span, seen);
            }
            catch (Exception e)
            {
                _receiving.SetException(e);
                return;
            }

            if (read >= 0)
            {
                _receiving.SetResult(read);
                return;
            }

            if (_read.WaitThen(seen, OnReceivableCallback, this))
            {
                // Cancelled while this thread had the callback: CancelReceive found nothing to take, so take it here.
                if (_receiveToken.IsCancellationRequested)
                {
                    CancelReceive();
                }

                return;
            }
        }
    }

    private void CancelReceive()
    {
        if (_read.TakeCallback())
        {
            _receiving.SetException(new OperationCanceledException(_receiveToken));
        }
    }

    int IValueTaskSource<int>.GetResult(short token)
    {
        // Dispose, not Unregister: a cancellation callback still running on another thread is waited for, so it cannot
        // take the callback of this socket's next receive.
        _receiveCancellation.Dispose();
        _receiveCancellation = default;
        _receiveBuffer = default;
        _receiveToken = default;
        return _receiving.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _receiving.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _receiving.OnCompleted(continuation, state, token, flags);

    /// <summary>Completes at the first read edge after <paramref name="seen"/> (<see cref="ReadSequence"/> before the receive that found nothing).</summary>
    public ValueTask WaitReadableAsync(int seen, CancellationToken cancellationToken) => _read.WaitAsync(seen, cancellationToken);

    /// <summary>
    /// Calls <paramref name="callback"/> on the loop at the first read edge after <paramref name="seen"/>; false when
    /// one already came (nothing registered: receive again now). See <see cref="Readiness.WaitThen"/>.
    /// </summary>
    public bool WaitReadableThen(int seen, Action<object?> callback, object? state) => _read.WaitThen(seen, callback, state);

    /// <summary>Wakes a reader waiting in <see cref="WaitReadableAsync"/> as if data had come (it tries again and finds out): a pipe reader's CancelPendingRead.</summary>
    public void WakeReader() => _read.Signal();

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
    /// connection must not have before it carries another request. Known from the loop's state without a system call
    /// when the last receive drained the socket and no edge came since; otherwise one non-blocking peek.
    /// </summary>
    public unsafe bool HasInputOrEnded()
    {
        if (_closed || PeerClosed)
        {
            return true;
        }

        int seen = _read.Sequence;
        if (seen == _drainedAt)
        {
            return false;
        }

        byte probe;
        nint read = recv(Fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        if (read < 0 && Errno == EAGAIN)
        {
            _drainedAt = seen;
            return false;
        }

        return true;
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

            if (sent >= 0)
            {
                return (int)sent;
            }

            int errno = Errno;
            if (errno == EAGAIN)
            {
                return 0;
            }

            if (errno != EINTR)
            {
                throw Failed("send", errno);
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
