using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using static Loadwise.AotProxy.Listener.LoopNative;

namespace Loadwise.AotProxy.Listener;

/// <summary>
/// Kestrel's transport for IP endpoints on the proxy's own event loop (Linux): each worker of <see cref="Group"/> has
/// its own SO_REUSEPORT listening socket per endpoint, so accepting is spread over the workers; each accepted
/// connection goes to the worker with the fewest client connections and stays there. Registered after Kestrel's socket
/// transport it takes the IP endpoints (<see cref="CanBind"/>); anything else stays with the socket transport.
/// </summary>
/// <example><code>
/// builder.Services.AddSingleton&lt;IConnectionListenerFactory&gt;(services =&gt; new LoopTransportFactory(Environment.ProcessorCount, false, logger));
/// </code></example>
internal sealed class LoopTransportFactory(int workers, bool waitForDataBeforeAllocatingBuffer, ILogger logger, LoopPipeOptions? pipes = null) : IConnectionListenerFactory, IConnectionListenerFactorySelector, IDisposable
{
    private readonly Lazy<EventLoopGroup> _group = new(() => new EventLoopGroup(workers, logger));

    /// <summary>Gets the workers (started on first use).</summary>
    public EventLoopGroup Group => _group.Value;

    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not IPEndPoint ip)
        {
            throw new NotSupportedException($"the event-loop transport binds IP endpoints only, not {endpoint}");
        }

        return new ValueTask<IConnectionListener>(new LoopListener(Group, ip, waitForDataBeforeAllocatingBuffer, pipes));
    }

    public void Dispose()
    {
        if (_group.IsValueCreated)
        {
            _group.Value.Dispose();
        }

        // After the workers stopped: nothing rents from the pool any more (the shared one is not ours to dispose).
        if (pipes is not null && !ReferenceEquals(pipes, LoopPipeOptions.Shared))
        {
            pipes.Pool.Dispose();
        }
    }
}

/// <summary>One bound endpoint: a listening socket on every worker, and the accepted connections queued for Kestrel.</summary>
internal sealed class LoopListener : IConnectionListener
{
    private const int Backlog = 512;

    private readonly Channel<LoopConnection> _accepted = Channel.CreateUnbounded<LoopConnection>(new UnboundedChannelOptions { SingleReader = true });
    private readonly List<LoopListenSocket> _sockets = [];
    private int _unbound;

    public LoopListener(EventLoopGroup group, IPEndPoint endPoint, bool waitForDataBeforeAllocatingBuffer, LoopPipeOptions? pipes = null)
    {
        WaitForDataBeforeAllocatingBuffer = waitForDataBeforeAllocatingBuffer;
        Pipes = pipes ?? LoopPipeOptions.Shared;
        try
        {
            foreach (EventLoopWorker worker in group.Workers)
            {
                // The first socket learns the port (for port 0); the others share it through SO_REUSEPORT.
                var socket = new LoopListenSocket(worker, group, endPoint, Backlog, this);
                endPoint = socket.LocalEndPoint;
                _sockets.Add(socket);
            }
        }
        catch
        {
            foreach (LoopListenSocket socket in _sockets)
            {
                socket.Dispose();
            }

            throw;
        }

        EndPoint = endPoint;
    }

    public EndPoint EndPoint { get; }

    /// <summary>Gets the options of the accepted connections' pipes to Kestrel.</summary>
    public LoopPipeOptions Pipes { get; }

    /// <summary>Gets whether an idle connection gives its read buffer back while it waits (Kestrel's option of that name).</summary>
    public bool WaitForDataBeforeAllocatingBuffer { get; }

    internal void Accepted(LoopConnection connection)
    {
        if (!_accepted.Writer.TryWrite(connection))
        {
            // Unbound meanwhile: nobody will take it.
            connection.Socket.Dispose();
        }
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _accepted.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _unbound, 1) == 0)
        {
            foreach (LoopListenSocket socket in _sockets)
            {
                socket.Dispose();
            }

            _accepted.Writer.TryComplete();
        }

        return default;
    }

    public async ValueTask DisposeAsync()
    {
        await UnbindAsync().ConfigureAwait(false);
        while (_accepted.Reader.TryRead(out LoopConnection? connection))
        {
            connection.Socket.Dispose();
        }
    }
}

/// <summary>
/// A worker's listening socket for one endpoint (level-triggered: each event accepts what is queued, up to a batch).
/// When the process runs out of descriptors or memory, the queued connection cannot be taken and the socket stays
/// readable; accepting then pauses for a second (as nginx does) instead of spinning the loop.
/// </summary>
internal sealed unsafe class LoopListenSocket : LoopHandle, IDisposable
{
    private const int AcceptBatch = 64;
    private static readonly TimeSpan AcceptPause = TimeSpan.FromSeconds(1);
    private readonly LoopListener _listener;
    private readonly EventLoopGroup _group;
    private readonly Lock _closeLock = new();
    private bool _closed;
    private Timer? _resume;

    public LoopListenSocket(EventLoopWorker worker, EventLoopGroup group, IPEndPoint endPoint, int backlog, LoopListener listener)
    {
        _listener = listener;
        _group = group;
        Worker = worker;
        bool v6 = endPoint.AddressFamily == AddressFamily.InterNetworkV6;
        int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd < 0)
        {
            throw Failed("socket", Errno);
        }

        try
        {
            SetOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
            SetOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
            if (v6)
            {
                // As Kestrel binds [::]: both families on one socket.
                SetOption(fd, IPPROTO_IPV6, IPV6_V6ONLY, endPoint.Address.Equals(IPAddress.IPv6Any) ? 0 : 1, "IPV6_V6ONLY");
            }

            SocketAddressBuffer address;
            uint length = Write(endPoint, &address);
            if (bind(fd, &address, length) != 0)
            {
                int errno = Errno;
                throw errno == 98
                    ? new AddressInUseException($"{endPoint} is in use by another process: stop it, or listen on another port", Failed("bind", errno))
                    : Failed($"bind {endPoint}", errno);
            }

            if (listen(fd, backlog) != 0)
            {
                throw Failed("listen", Errno);
            }

            length = (uint)sizeof(SocketAddressBuffer);
            getsockname(fd, &address, &length);
            LocalEndPoint = Read(&address) ?? endPoint;
            Fd = fd;
            worker.Register(this, EPOLLIN);
        }
        catch
        {
            close(fd);
            throw;
        }
    }

    /// <summary>Gets the bound address (with the port the kernel chose for port 0).</summary>
    public IPEndPoint LocalEndPoint { get; }

    public override void OnEvents(uint events)
    {
        for (int i = 0; i < AcceptBatch; i++)
        {
            SocketAddressBuffer address;
            uint length = (uint)sizeof(SocketAddressBuffer);
            int fd;
            int errno = 0;
            lock (_closeLock)
            {
                if (_closed)
                {
                    return;
                }

                fd = accept4(Fd, &address, &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                {
                    errno = Errno;
                }
            }

            if (fd < 0)
            {
                if (errno is EMFILE or ENFILE or ENOBUFS or ENOMEM)
                {
                    Pause(errno);
                    return;
                }

                if (errno == EAGAIN)
                {
                    return;
                }

                // A connection reset before it was taken (ECONNABORTED), a signal: the next one may be fine.
                continue;
            }

            LoopSocket socket;
            try
            {
                SetOption(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
                socket = new LoopSocket(_group.FewestClientConnections(Worker), fd, Read(&address), accepted: true);
            }
            catch (SocketException)
            {
                close(fd);
                continue;
            }

            _listener.Accepted(new LoopConnection(socket, LocalEndPoint, _listener.WaitForDataBeforeAllocatingBuffer, _listener.Pipes));
        }
    }

    private void Pause(int errno)
    {
        Worker.Modify(this, 0);
        Worker.Logger.LogWarning(
            "cannot accept connections on {Endpoint}: {Reason}; accepting again in {Pause} s (raise the open-files limit, ulimit -n or LimitNOFILE, if this repeats)",
            LocalEndPoint,
            Failed("accept4", errno).Message,
            AcceptPause.TotalSeconds);
        _resume ??= new Timer(static state => ((LoopListenSocket)state!).Resume(), this, Timeout.Infinite, Timeout.Infinite);
        _resume.Change(AcceptPause, Timeout.InfiniteTimeSpan);
    }

    private void Resume()
    {
        lock (_closeLock)
        {
            if (!_closed)
            {
                Worker.Modify(this, EPOLLIN);
            }
        }
    }

    public void Dispose()
    {
        lock (_closeLock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            _resume?.Dispose();
            Worker.Unregister(this);
            close(Fd);
        }
    }
}
