using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Loadwise.AotProxy.Listener;
using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.Upstream;

/// <summary>
/// Idle keep-alive connections to one plain-HTTP backend, kept apart by the event thread their socket completes on.
/// A request takes a connection homed on its own thread first, so the client's socket, the backend's socket and the
/// code between them stay on one thread and one core's cache, as in nginx's worker model (the measurement is in
/// bench/results/proxy-design-measurements.md). Failing
/// that it takes any idle one (a new connection would not be any closer: sockets are spread over event threads in
/// turn), and only then connects. Renting is a lock-free dequeue; a connection idle longer than the idle timeout is
/// closed instead of reused. A connection the backend closed while idle is found out on use, and the forwarder then retries
/// once on a new connection (nothing reached the backend's application).
/// </summary>
internal sealed class ConnectionPool : IDisposable
{
    /// <summary>Idle connections kept per backend; more than this (after a burst) are closed on return.</summary>
    public const int MaxIdle = 1024;

    /// <summary>
    /// Slots threads are numbered into. The runtime runs one socket event thread per core; room for a few times that
    /// keeps each event thread in a slot of its own even when other threads took numbers first.
    /// </summary>
    private static readonly int Slots = Math.Clamp(Environment.ProcessorCount * 4, 8, 64);

    [ThreadStatic]
    private static int t_slot;

    private static int s_slotsHanded;

    private readonly ConcurrentQueue<BackendConnection>[] _idle;
    private readonly int _maxIdlePerSlot;
    private readonly EndPoint _endPoint;
    private readonly EventLoopGroup? _loop;
    private readonly TimeSpan _connectTimeout;
    private readonly long _idleTimeoutMilliseconds;
    private readonly ITimer _sweeper;
    private readonly ProxyClock _clock;
    private volatile bool _disposed;

    /// <summary>Gets the settings the pool's connections are made with.</summary>
    public UpstreamSettings Settings { get; }

    /// <summary>Gets whether connections made under <paramref name="other"/> would be made the same way (so a reload can keep this pool).</summary>
    public bool MakesConnectionsAs(UpstreamSettings other) =>
        Settings.ConnectTimeout == other.ConnectTimeout && Settings.IdleTimeout == other.IdleTimeout
        && ReferenceEquals(Settings.EventLoop, other.EventLoop) && ReferenceEquals(Settings.Clock, other.Clock);

    public ConnectionPool(Uri backend, UpstreamSettings settings)
    {
        Settings = settings;
        _loop = settings.EventLoop;
        _clock = settings.Clock;
        TimeSpan connectTimeout = settings.ConnectTimeout;
        TimeSpan idleTimeout = settings.IdleTimeout;
        _endPoint = IPAddress.TryParse(backend.IdnHost, out IPAddress? address)
            ? new IPEndPoint(address, backend.Port)
            : new DnsEndPoint(backend.IdnHost, backend.Port);
        _connectTimeout = connectTimeout;
        _idleTimeoutMilliseconds = (long)idleTimeout.TotalMilliseconds;
        _idle = new ConcurrentQueue<BackendConnection>[Slots];
        for (int i = 0; i < _idle.Length; i++)
        {
            _idle[i] = new ConcurrentQueue<BackendConnection>();
        }

        _maxIdlePerSlot = Math.Max(16, MaxIdle / Slots);
        // Idle connections the backend closed, or sent bytes on, are otherwise only found when rented; a quiet pool
        // would keep them in CLOSE_WAIT until then.
        TimeSpan sweep = TimeSpan.FromMilliseconds(Math.Clamp(_idleTimeoutMilliseconds / 2, 100, 5_000));
        _sweeper = _clock.CreateTimer(static state => ((ConnectionPool)state!).Sweep(), this, sweep, sweep);
    }

    /// <summary>Gets the connections idle in the pool right now.</summary>
    public int IdleCount => _idle.Sum(static queue => queue.Count);

    /// <summary>Gets the calling thread's slot: threads are numbered as they first ask, modulo the slot count.</summary>
    public static int CurrentSlot()
    {
        int slot = t_slot;
        if (slot == 0)
        {
            slot = t_slot = Interlocked.Increment(ref s_slotsHanded);
        }

        return (slot - 1) % Slots;
    }

    /// <summary>
    /// Takes an idle connection that has not passed the idle timeout at <paramref name="now"/> (<see cref="ProxyClock"/>
    /// milliseconds; the request's start will do), closing the expired ones on the way: one homed on the calling thread
    /// if there is one, else any.
    /// </summary>
    public bool TryRent(long now, out BackendConnection connection)
    {
        int home = CurrentSlot();
        for (int i = 0; i < _idle.Length; i++)
        {
            ConcurrentQueue<BackendConnection> queue = _idle[(home + i) % _idle.Length];
            while (queue.TryDequeue(out BackendConnection? idle))
            {
                // Idle past the timeout, or readable while idle (bytes no request asked for, or the backend's close):
                // closed, never reused, as nginx and HAProxy close an idle upstream connection that becomes readable.
                if (now - idle.IdleSince < _idleTimeoutMilliseconds && !idle.HasInputOrEnded())
                {
                    connection = idle;
                    return true;
                }

                idle.Dispose();
            }
        }

        connection = null!;
        return false;
    }

    /// <summary>Opens a new connection within the connect timeout; fails with <see cref="UpstreamError.Connect"/>.</summary>
    public async ValueTask<BackendConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_connectTimeout);
        try
        {
            if (_loop is not null)
            {
                // On the calling loop thread's own epoll when there is one: the request and its backend stay on one thread.
                IPEndPoint target = _endPoint as IPEndPoint ?? await ResolveAsync((DnsEndPoint)_endPoint, timeout.Token).ConfigureAwait(false);
                return new BackendConnection(await LoopSocket.ConnectAsync(_loop.CurrentOrNext(), target, timeout.Token).ConfigureAwait(false));
            }

            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(_endPoint, timeout.Token).ConfigureAwait(false);
                return new BackendConnection(socket);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new UpstreamException(UpstreamError.Connect, $"connect to {_endPoint} timed out after {_connectTimeout.TotalMilliseconds:0} ms");
        }
        catch (SocketException e)
        {
            throw new UpstreamException(UpstreamError.Connect, $"connect to {_endPoint} failed: {e.Message}", e);
        }
    }

    private static async ValueTask<IPEndPoint> ResolveAsync(DnsEndPoint endPoint, CancellationToken cancellationToken)
    {
        IPAddress[] addresses = await Dns.GetHostAddressesAsync(endPoint.Host, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound, $"{endPoint.Host} has no address");
        }

        return new IPEndPoint(addresses[0], endPoint.Port);
    }

    /// <summary>Puts a connection whose exchange (started at <paramref name="attemptStarted"/>, <see cref="ProxyClock"/> milliseconds) ended cleanly back for reuse.</summary>
    public void Return(BackendConnection connection, long attemptStarted)
    {
        ConcurrentQueue<BackendConnection> queue = _idle[connection.HomeSlot >= 0 ? connection.HomeSlot : CurrentSlot()];
        if (_disposed || queue.Count >= _maxIdlePerSlot || connection.Start != connection.End || !connection.Reusable)
        {
            // Bytes beyond the response, or a framing anomaly: the backend is out of step with us, so the connection
            // cannot be trusted with another request.
            connection.Dispose();
            return;
        }

        connection.Clear();
        connection.IdleSince = attemptStarted;
        queue.Enqueue(connection);
    }

    /// <summary>
    /// Closes the idle connections that expired, or that are readable (the backend closed them, or sent bytes no request
    /// asked for); the others go back to their queue.
    /// </summary>
    internal void Sweep()
    {
        long now = _clock.NowMilliseconds;
        foreach (ConcurrentQueue<BackendConnection> queue in _idle)
        {
            for (int i = queue.Count; i > 0 && !_disposed && queue.TryDequeue(out BackendConnection? idle); i--)
            {
                if (now - idle.IdleSince < _idleTimeoutMilliseconds && !idle.HasInputOrEnded())
                {
                    queue.Enqueue(idle);
                }
                else
                {
                    idle.Dispose();
                }
            }
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _sweeper.Dispose();
        CloseIdle();
    }

    private void CloseIdle()
    {
        foreach (ConcurrentQueue<BackendConnection> queue in _idle)
        {
            while (queue.TryDequeue(out BackendConnection? idle))
            {
                idle.Dispose();
            }
        }
    }
}
