using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Loadwise.AotProxy.EventLoop;
using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.Forwarding;

/// <summary>Why an exchange with a backend failed; decides between retry, 502 and a cut connection.</summary>
internal enum UpstreamError
{
    /// <summary>No connection could be opened: nothing was sent.</summary>
    Connect,

    /// <summary>The request may have been sent, but not one response byte came back.</summary>
    NoResponse,

    /// <summary>The backend answered something that is not valid HTTP/1.x.</summary>
    InvalidResponse,

    /// <summary>The response body broke off.</summary>
    Body,
}

/// <summary>A failed exchange with a backend, with the stage it failed at.</summary>
internal sealed class UpstreamException(UpstreamError error, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>Gets the stage the exchange failed at.</summary>
    public UpstreamError Error { get; } = error;
}

/// <summary>
/// One keep-alive HTTP/1.1 connection to a backend and its receive buffer. The buffer holds the bytes received but
/// not yet consumed (between <see cref="Start"/> and <see cref="End"/>), so a response head, chunk lines and body bytes
/// are parsed in place, without copies or strings beyond the header values themselves.
/// </summary>
internal sealed class Http1Connection : IDisposable
{
    /// <summary>16 KiB: the largest response head accepted (nginx's default proxy buffer is 4-8 KiB).</summary>
    public const int BufferSize = 16 * 1024;

    /// <summary>A connection on the runtime's sockets.</summary>
    public Http1Connection(Socket socket)
    {
        _socket = new ConnectionSocket(socket);
        Buffer = GC.AllocateUninitializedArray<byte>(BufferSize);
    }

    /// <summary>A connection on the proxy's event loop (its receives complete on the loop thread that owns it).</summary>
    public Http1Connection(LoopSocket socket)
    {
        _socket = new ConnectionSocket(socket);
        Buffer = GC.AllocateUninitializedArray<byte>(BufferSize);
    }

    private readonly ConnectionSocket _socket;

    public byte[] Buffer { get; }

    /// <summary>Gets the head of the response being read (reused across exchanges).</summary>
    public Http1ResponseHead Head { get; } = new();

    /// <summary>Gets or sets the first unconsumed byte in <see cref="Buffer"/>.</summary>
    public int Start { get; set; }

    /// <summary>Gets the end of the received bytes in <see cref="Buffer"/>.</summary>
    public int End { get; private set; }

    /// <summary>Gets the unconsumed bytes.</summary>
    public ReadOnlySpan<byte> Available => Buffer.AsSpan(Start, End - Start);

    /// <summary>
    /// Gets or sets when the connection went back to its pool (<see cref="ProxyClock"/> milliseconds): the start of the
    /// attempt that returned it, which overstates the idle time by that attempt's length, so a connection is never
    /// kept past the idle timeout, and no clock is read to return it.
    /// </summary>
    public long IdleSince { get; set; }

    /// <summary>
    /// Gets the event-thread slot (<see cref="Http1ConnectionPool.CurrentSlot"/>) this connection's receives complete
    /// on, learnt from its last receive that had to wait; -1 until then.
    /// </summary>
    public int HomeSlot { get; set; } = -1;

    /// <summary>Gets the bytes received from the backend over the current exchange.</summary>
    public long Received { get; private set; }

    /// <summary>
    /// Gets whether the connection may carry another exchange once this one ends cleanly: false after any framing
    /// anomaly (<see cref="MarkNotReusable"/>), until the next <see cref="BeginExchange"/> on a new connection.
    /// </summary>
    public bool Reusable { get; private set; } = true;

    /// <summary>Forgets the consumed bytes, so the next exchange fills the buffer from its start.</summary>
    public void Clear() => Start = End = 0;

    /// <summary>Starts a new exchange: nothing received yet.</summary>
    public void BeginExchange() => Received = 0;

    /// <summary>Marks the connection as not to be reused: it carried something odd, so its next bytes cannot be trusted.</summary>
    public void MarkNotReusable() => Reusable = false;

    /// <summary>Returns true when the idle connection has bytes waiting, or ended: it must not carry another request.</summary>
    public bool HasInputOrEnded() => _socket.HasInputOrEnded();

    /// <summary>
    /// Receives more bytes after the unconsumed ones, moving those to the front first when the buffer's tail is full.
    /// Returns false at the end of the stream, or when the buffer is full of unconsumed bytes.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> FillAsync(CancellationToken cancellationToken) =>
        TryFillNow(out bool more, out ValueTask<int> pending, cancellationToken) ? more : Filled(await pending.ConfigureAwait(false));

    /// <summary>
    /// <see cref="FillAsync"/> without its own async state machine, for the response-head reader that runs on every
    /// request: true when the fill is over now, <paramref name="more"/> as FillAsync would return it; false when the
    /// receive waits, and the caller awaits <paramref name="pending"/> and passes its count to <see cref="Filled"/>.
    /// </summary>
    public bool TryFillNow(out bool more, out ValueTask<int> pending, CancellationToken cancellationToken)
    {
        pending = default;
        if (!TryMakeRoom())
        {
            more = false;
            return true;
        }

        ValueTask<int> receive = _socket.ReceiveAsync(Buffer.AsMemory(End), cancellationToken);
        if (receive.IsCompletedSuccessfully)
        {
            more = TakeIn(receive.Result);
            return true;
        }

        more = false;
        pending = receive;
        return false;
    }

    /// <summary>
    /// Takes in the count of a receive from <see cref="TryFillNow"/> that had to wait; false at the end of the stream.
    /// With inline socket completions the caller then runs on the event thread that owns the socket, its home.
    /// </summary>
    public bool Filled(int read)
    {
        HomeSlot = Http1ConnectionPool.CurrentSlot();
        return TakeIn(read);
    }

    /// <summary>Makes room after the unconsumed bytes; false when they fill the buffer.</summary>
    private bool TryMakeRoom()
    {
        if (Start == End)
        {
            Clear();
        }
        else if (End == Buffer.Length)
        {
            if (Start == 0)
            {
                return false;
            }

            Buffer.AsSpan(Start, End - Start).CopyTo(Buffer);
            End -= Start;
            Start = 0;
        }

        return true;
    }

    private bool TakeIn(int read)
    {
        End += read;
        Received += read;
        return read > 0;
    }

    /// <summary>Sends all of <paramref name="data"/> to the backend; completes at once when the kernel took it all.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => _socket.SendAsync(data, cancellationToken);

    public void Dispose() => _socket.Dispose();
}

/// <summary>
/// Idle keep-alive connections to one plain-HTTP backend, kept apart by the event thread their socket completes on.
/// A request takes a connection homed on its own thread first, so the client's socket, the backend's socket and the
/// code between them stay on one thread and one core's cache, as in nginx's worker model (measured on 2 cores under
/// wrk: 97.8% of rents homed, epoll_wait calls per request 0.73 -> 0.04, about 1.4 us less CPU per request). Failing
/// that it takes any idle one (a new connection would not be any closer: sockets are spread over event threads in
/// turn), and only then connects. Renting is a lock-free dequeue; a connection idle longer than the idle timeout is
/// closed instead of reused. A connection the backend closed while idle is found out on use, and the forwarder then retries
/// once on a new connection (nothing reached the backend's application).
/// </summary>
internal sealed class Http1ConnectionPool : IDisposable
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

    private readonly ConcurrentQueue<Http1Connection>[] _idle;
    private readonly int _maxIdlePerSlot;
    private readonly EndPoint _endPoint;
    private readonly EventLoopGroup? _loop;
    private readonly TimeSpan _connectTimeout;
    private readonly long _idleTimeoutMilliseconds;
    private volatile bool _disposed;

    public Http1ConnectionPool(Uri backend, TimeSpan connectTimeout, TimeSpan idleTimeout, EventLoopGroup? loop = null)
    {
        _loop = loop;
        _endPoint = IPAddress.TryParse(backend.IdnHost, out IPAddress? address)
            ? new IPEndPoint(address, backend.Port)
            : new DnsEndPoint(backend.IdnHost, backend.Port);
        _connectTimeout = connectTimeout;
        _idleTimeoutMilliseconds = (long)idleTimeout.TotalMilliseconds;
        _idle = new ConcurrentQueue<Http1Connection>[Slots];
        for (int i = 0; i < _idle.Length; i++)
        {
            _idle[i] = new ConcurrentQueue<Http1Connection>();
        }

        _maxIdlePerSlot = Math.Max(16, MaxIdle / Slots);
        BasePath = backend.AbsolutePath.TrimEnd('/');
    }

    /// <summary>Gets the backend URL's path without the trailing slash; the request target is appended to it.</summary>
    public string BasePath { get; }

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
    public bool TryRent(long now, out Http1Connection connection)
    {
        int home = CurrentSlot();
        for (int i = 0; i < _idle.Length; i++)
        {
            ConcurrentQueue<Http1Connection> queue = _idle[(home + i) % _idle.Length];
            while (queue.TryDequeue(out Http1Connection? idle))
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
    public async ValueTask<Http1Connection> ConnectAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_connectTimeout);
        try
        {
            if (_loop is not null)
            {
                // On the calling loop thread's own epoll when there is one: the request and its backend stay on one thread.
                IPEndPoint target = _endPoint as IPEndPoint ?? await ResolveAsync((DnsEndPoint)_endPoint, timeout.Token).ConfigureAwait(false);
                return new Http1Connection(await LoopSocket.ConnectAsync(_loop.CurrentOrNext(), target, timeout.Token).ConfigureAwait(false));
            }

            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(_endPoint, timeout.Token).ConfigureAwait(false);
                return new Http1Connection(socket);
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
    public void Return(Http1Connection connection, long attemptStarted)
    {
        ConcurrentQueue<Http1Connection> queue = _idle[connection.HomeSlot >= 0 ? connection.HomeSlot : CurrentSlot()];
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

    public void Dispose()
    {
        _disposed = true;
        foreach (ConcurrentQueue<Http1Connection> queue in _idle)
        {
            while (queue.TryDequeue(out Http1Connection? idle))
            {
                idle.Dispose();
            }
        }
    }
}

/// <summary>
/// HTTP/1.1 bytes on their way out, in a pooled byte buffer that grows as needed: a request head upstream, and on the
/// fast path a whole response (head and body) until it is sent. Dispose returns the buffer; the next write rents again.
/// </summary>
internal struct HttpOutputBuffer : IDisposable
{
    /// <summary>The smallest buffer rented: a response head and a small body fit without growing.</summary>
    private const int MinimumCapacity = 2048;

    private byte[] _buffer;
    private int _length;
    private bool _rented;

    /// <summary>Starts with a pooled buffer of at least <paramref name="capacity"/> bytes.</summary>
    public HttpOutputBuffer(int capacity)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(capacity, MinimumCapacity));
        _length = 0;
        _rented = true;
    }

    /// <summary>
    /// Writes into <paramref name="borrowed"/>, which stays the caller's: only what outgrows it is rented (and given
    /// back by <see cref="Dispose"/>).
    /// </summary>
    public HttpOutputBuffer(byte[] borrowed)
    {
        _buffer = borrowed;
        _length = 0;
        _rented = false;
    }

    /// <summary>Continues with a buffer rented from <see cref="ArrayPool{T}.Shared"/> that <see cref="DetachRented"/> gave out, empty.</summary>
    public static HttpOutputBuffer FromRented(byte[] rented) => new(rented) { _rented = true };

    /// <summary>Gets the bytes written so far.</summary>
    public readonly ReadOnlyMemory<byte> Written => _buffer is null ? default : _buffer.AsMemory(0, _length);

    /// <summary>Gets the number of bytes written so far.</summary>
    public readonly int Length => _length;

    /// <summary>Forgets what was written (after it was sent), keeping the buffer.</summary>
    public void Clear() => _length = 0;

    /// <summary>Gets room for at least <paramref name="sizeHint"/> bytes after those written; <see cref="Advance"/> commits them.</summary>
    public Span<byte> GetSpan(int sizeHint)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_length);
    }

    /// <summary>Commits <paramref name="count"/> bytes written into the span from <see cref="GetSpan"/>.</summary>
    public void Advance(int count) => _length += count;

    /// <summary>Appends text as Latin-1 (Kestrel admits only ASCII in request heads unless told otherwise).</summary>
    public void Append(string text)
    {
        Ensure(text.Length);
        _length += System.Text.Encoding.Latin1.GetBytes(text, _buffer.AsSpan(_length));
    }

    /// <summary>Appends ASCII bytes such as <c>": "</c> or CRLF.</summary>
    public void Append(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    /// <summary>Appends a number in decimal.</summary>
    public void Append(long value)
    {
        Ensure(20);
        System.Buffers.Text.Utf8Formatter.TryFormat(value, _buffer.AsSpan(_length), out int written);
        _length += written;
    }

    /// <summary>Appends one header line from bytes read off the wire: <c>name: value</c> and CRLF, with one capacity check.</summary>
    public void AppendField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        Ensure(name.Length + value.Length + 4);
        Span<byte> line = _buffer.AsSpan(_length);
        name.CopyTo(line);
        line[name.Length] = (byte)':';
        line[name.Length + 1] = (byte)' ';
        value.CopyTo(line[(name.Length + 2)..]);
        line[name.Length + 2 + value.Length] = (byte)'\r';
        line[name.Length + 3 + value.Length] = (byte)'\n';
        _length += name.Length + value.Length + 4;
    }

    /// <summary>Appends one header line.</summary>
    public void AppendHeader(string name, string value)
    {
        Append(name);
        Append(": "u8);
        Append(value);
        Append("\r\n"u8);
    }

    /// <summary>
    /// Hands over the rented buffer (null when there is none), to be resumed with <see cref="FromRented"/> or given back
    /// to the pool by the new owner; this writer is left empty, as after <see cref="Dispose"/>.
    /// </summary>
    public byte[]? DetachRented()
    {
        byte[]? rented = _rented ? _buffer : null;
        _buffer = [];
        _length = 0;
        _rented = false;
        return rented;
    }

    public void Dispose()
    {
        if (_rented)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = [];
        _length = 0;
        _rented = false;
    }

    /// <summary>Makes room for <paramref name="count"/> more bytes: inlined for the usual case, where there is room already.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Ensure(int count)
    {
        if (_buffer is null || _buffer.Length - _length < count)
        {
            Grow(count);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(int count)
    {
        _buffer ??= [];
        byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(Math.Max(_buffer.Length * 2, _length + count), MinimumCapacity));
        _buffer.AsSpan(0, _length).CopyTo(larger);
        if (_rented)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = larger;
        _rented = true;
    }
}
