using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Loadwise.AotProxy.EventLoop;
using Loadwise.AotProxy.RateLimiting;
using Loadwise.AotProxy.Routing;
using Loadwise.AotProxy.Threading;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.WebUtilities;

namespace Loadwise.AotProxy.Forwarding;

/// <summary>Settings of the fast path, taken from the proxy's configuration and Kestrel's limits.</summary>
internal sealed record FastPathSettings(
    RequestHeadLimits Limits,
    TimeSpan KeepAliveTimeout,
    TimeSpan RequestHeadersTimeout,
    string? MetricsPath,
    string[] ReadHeaders,
    MinDataRate? MinResponseDataRate);

/// <summary>
/// A connection middleware in front of Kestrel's HTTP/1.1 layer, on Kestrel's own transport. Each request head is
/// parsed in the connection's pipe by <see cref="Http1RequestHead"/>; a plain GET or HEAD is forwarded from those
/// bytes and the backend's response written straight back (status line, end-to-end headers, body), with no
/// HttpContext, header dictionary or strings per request. The first request it is not sure of hands the connection,
/// that request's bytes still unread, to Kestrel's HTTP layer for good, so everything else (bodies, limits, errors,
/// HTTP/2) is exactly as before. Measured on 2 cores: proxy user CPU per request from 10-12 us to 7.5-8.4 us.
/// </summary>
internal sealed class Http1FastPath(ProxyForwarder forwarder, ForwardedHeaders forwarded, ClientRateLimiter? rateLimiter, FastPathSettings settings)
{
    public ProxyForwarder Forwarder => forwarder;

    public ForwardedHeaders Forwarded => forwarded;

    public ClientRateLimiter? RateLimiter => rateLimiter;

    public FastPathSettings Settings => settings;

    /// <summary>Gets how many connections the fast path handed to Kestrel's HTTP layer.</summary>
    public long HandedOff => Volatile.Read(ref _handedOff);

    /// <summary>Gets how many requests the fast path forwarded itself.</summary>
    public long Served => _served.Sum(0);

    private long _handedOff;
    private readonly PerCoreCells _served = new(1);

    internal void OnServed() => _served.Add(0, 1);

    /// <summary>Serves one connection, handing it to <paramref name="next"/> (Kestrel's HTTP layer) when a request needs that.</summary>
    public async Task RunAsync(ConnectionContext context, ConnectionDelegate next)
    {
        IConnectionHeartbeatFeature? heartbeat = context.Features.Get<IConnectionHeartbeatFeature>();
        IConnectionLifetimeNotificationFeature? lifetime = context.Features.Get<IConnectionLifetimeNotificationFeature>();
        LoopConnection? loop = context.Features.Get<LoopConnection>();
        Socket? socket = loop is null ? context.Features.Get<IConnectionSocketFeature>()?.Socket : null;
        if (heartbeat is null || lifetime is null || (socket is null && loop is null))
        {
            // Without Kestrel's heartbeat the fast path could not enforce its timeouts, and without the socket
            // (another transport) it could not answer.
            await next(context).ConfigureAwait(false);
            return;
        }

        var connection = loop is not null
            ? new Http1FastPathConnection(this, context, loop.DirectInput, loop.Socket, heartbeat, lifetime)
            : new Http1FastPathConnection(this, context, context.Transport.Input, socket!, heartbeat, lifetime);
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

/// <summary>
/// The fast path's exchange: a struct over its connection, so that <see cref="ProxyForwarder.ForwardAsync{TExchange}"/>
/// and the direct attempt are compiled for it (direct, inlinable calls), as they are for <see cref="KestrelExchange"/>,
/// rather than run as generic code shared by all classes, where each member is an interface call and each async
/// state machine's type a runtime lookup.
/// </summary>
internal readonly struct FastPathExchange(Http1FastPathConnection connection) : IForwardingExchange
{
    public string Method => connection.Method;

    public bool HasBody => false;

    public HttpContext? Context => null;

    public CancellationToken ClientAborted => connection.ClientAborted;

    public bool ClientGone => connection.ClientGone;

    public IPAddress? Peer => connection.Peer;

    public ReadOnlySpan<char> Path => connection.Path;

    public ReadOnlySpan<char> Query => connection.Query;

    public ReadOnlySpan<char> Header(string name) => connection.Header(name);

    public AttemptCancellation BeginAttempt(TimeSpan timeout, long now) => new(connection.BeginAttempt(timeout, now), null);

    public void EndAttempt(AttemptCancellation attempt) => connection.EndAttempt();

    public bool TryAcquireToken(ClientRateLimiter limiter, out int retryAfterSeconds) => connection.TryAcquireToken(limiter, out retryAfterSeconds);

    public void WriteRequestHead(ref HttpOutputBuffer writer, Backend backend, string basePath, ForwarderSettings settings) =>
        connection.WriteRequestHead(ref writer, backend, basePath, settings);

    public ValueTask RelayResponseAsync(Http1Connection backend, Http1ResponseHead head, CancellationToken cancellationToken) =>
        connection.RelayResponseAsync(backend, head, cancellationToken);

    public ValueTask WriteErrorAsync(int status, string text, int retryAfterSeconds = -1) => connection.WriteErrorAsync(status, text, retryAfterSeconds);

    public bool TryDiscardResponse() => connection.TryDiscardResponse();

    public void Abort() => connection.Abort();
}

/// <summary>One client connection on the fast path, and what its exchange (<see cref="FastPathExchange"/>) does.</summary>
internal sealed class Http1FastPathConnection : IDisposable
{
    private const string Scheme = "http";

    private readonly Http1FastPath _owner;
    private readonly ConnectionContext _context;
    private readonly PipeReader _input;
    private readonly ConnectionSocket _socket;
    private readonly IPAddress? _peer;
    private readonly bool _peerTrusted;
    private readonly string _peerText;
    private readonly UInt128 _peerKey;
    private readonly CancellationTokenRegistration _closeRequest;

    // The connection's closed token, read once: it is fixed for the connection's life, and the transport's getter is a
    // virtual call (a CancellationTokenSource's Token on the event loop) made several times per request otherwise.
    private readonly CancellationToken _clientClosed;
    private readonly Http1RequestHead _head = new();
    private HttpOutputBuffer _output;

    // The output buffer while the connection waits for its next request; the heartbeat gives it back to the pool if
    // it is still there (an idle connection holds none), else the next request takes it up again.
    private byte[]? _parkedOutput;
    private AttemptTimeout? _attemptTimeout;
    private ReadOnlyMemory<byte> _request;
    private byte[]? _scratch;
    private char[] _chars = new char[256];
    private ClientBodyStream? _body;
    private string? _hostText;
    private byte[] _hostBytes = [];
    private byte[] _forwardedLines = [];
    private string? _forwardedLinesHost;

    // Read by the heartbeat thread.
    private long _deadline = long.MaxValue;
    private long _writeDeadline;
    private volatile bool _flushPending;
    private volatile bool _reading;
    private volatile bool _handedOff;
    private volatile bool _closeRequested;
    private bool _clientGone;

    // Whether any byte of the current response has gone to the client (until then an error can replace it).
    private bool _responseStarted;

    /// <summary>
    /// A connection on Kestrel's socket transport: reads from its pipe, sends on its socket. That transport fires the
    /// connection-closed token on a half-close too, so it is not used: a client that sent its request and half-closed
    /// still gets its answer, and one that left is found out when its answer cannot be sent (as HAProxy does).
    /// </summary>
    public Http1FastPathConnection(Http1FastPath owner, ConnectionContext context, PipeReader input, Socket socket, IConnectionHeartbeatFeature heartbeat, IConnectionLifetimeNotificationFeature lifetime)
        : this(owner, context, input, CancellationToken.None, heartbeat, lifetime) => _socket = new ConnectionSocket(socket);

    /// <summary>
    /// A connection on the proxy's event loop: reads straight from the socket (<see cref="LoopInput"/>) and sends on
    /// it. Its connection-closed token fires when the connection breaks, not on a half-close.
    /// </summary>
    public Http1FastPathConnection(Http1FastPath owner, ConnectionContext context, LoopInput input, LoopSocket socket, IConnectionHeartbeatFeature heartbeat, IConnectionLifetimeNotificationFeature lifetime)
        : this(owner, context, input, context.ConnectionClosed, heartbeat, lifetime) => _socket = new ConnectionSocket(socket);

    private Http1FastPathConnection(Http1FastPath owner, ConnectionContext context, PipeReader input, CancellationToken clientClosed, IConnectionHeartbeatFeature heartbeat, IConnectionLifetimeNotificationFeature lifetime)
    {
        _owner = owner;
        _context = context;
        _clientClosed = clientClosed;
        _input = input;
        _peer = (context.RemoteEndPoint as IPEndPoint)?.Address;
        _peerTrusted = owner.Forwarded.IsTrusted(_peer);
        _peerText = ForwardedHeaders.PeerText(_peer);
        _peerKey = owner.RateLimiter?.KeyOf(_peer) ?? default;
        heartbeat.OnHeartbeat(static state => ((Http1FastPathConnection)state!).OnHeartbeat(), this);
        _closeRequest = lifetime.ConnectionClosedRequested.Register(static state => ((Http1FastPathConnection)state!).OnCloseRequested(), this);
    }

    public string Method => _head.Method;

    public CancellationToken ClientAborted => _clientClosed;

    public bool ClientGone => _clientGone || _clientClosed.IsCancellationRequested;

    public IPAddress? Peer => _peer;

    /// <summary>Gets the path (valid until the next call that decodes: Path, Query or Header).</summary>
    public ReadOnlySpan<char> Path => Decode(Target[.._head.PathLength]);

    /// <summary>Gets the raw query with its <c>?</c> (valid until the next call that decodes).</summary>
    public ReadOnlySpan<char> Query => Decode(Target[_head.PathLength..]);

    /// <summary>Adds response body bytes to what <see cref="FlushAsync"/> sends next, as one chunk when <paramref name="chunked"/>.</summary>
    internal void WriteBody(ReadOnlySpan<byte> data, bool chunked)
    {
        if (chunked)
        {
            Span<byte> size = _output.GetSpan(18);
            Utf8Formatter.TryFormat((ulong)data.Length, size, out int written, new StandardFormat('x'));
            "\r\n"u8.CopyTo(size[written..]);
            _output.Advance(written + 2);
        }

        _output.Append(data);
        if (chunked)
        {
            _output.Append("\r\n"u8);
        }
    }

    private ReadOnlySpan<byte> Target => _request.Span.Slice(_head.TargetStart, _head.TargetLength);

    /// <summary>Gets a header's value (valid until the next call that decodes).</summary>
    public ReadOnlySpan<char> Header(string name) => Decode(_head.Find(_request.Span, name));

    /// <summary>
    /// Serves requests until the client leaves, the proxy drains, or a request needs Kestrel. Returns true when the
    /// connection is finished with, false when Kestrel's HTTP layer must take it over (the unread request is still in
    /// the pipe).
    /// </summary>
    public async Task<bool> ServeAsync()
    {
        FastPathSettings settings = _owner.Settings;
        bool partial = false;
        try
        {
            while (true)
            {
                if (_closeRequested)
                {
                    return true;
                }

                if (!partial)
                {
                    Volatile.Write(ref _deadline, ProxyClock.NowMilliseconds + (long)settings.KeepAliveTimeout.TotalMilliseconds);
                }

                _reading = true;
                ReadResult result = await _input.ReadAsync().ConfigureAwait(false);
                _reading = false;
                ReadOnlySequence<byte> buffer = result.Buffer;
                if (result.IsCanceled)
                {
                    _input.AdvanceTo(buffer.Start, buffer.Start);
                    continue;
                }

                if (buffer.IsEmpty && result.IsCompleted)
                {
                    _input.AdvanceTo(buffer.End);
                    return true;
                }

                ReadOnlyMemory<byte> bytes = buffer.IsSingleSegment ? buffer.First : Gather(buffer, settings.Limits);
                RequestHeadParse parse = _head.TryParse(bytes.Span, settings.Limits, settings.ReadHeaders);
                if (parse == RequestHeadParse.NeedMoreData)
                {
                    _input.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
                    {
                        return true;
                    }

                    if (!partial)
                    {
                        // The request has begun: from here its head must arrive within the headers timeout.
                        partial = true;
                        Volatile.Write(ref _deadline, ProxyClock.NowMilliseconds + (long)settings.RequestHeadersTimeout.TotalMilliseconds);
                    }

                    continue;
                }

                if (parse == RequestHeadParse.HandOff || IsMetricsRequest(bytes.Span, settings.MetricsPath))
                {
                    // Nothing consumed or examined: Kestrel reads this request as if it were the first.
                    _handedOff = true;
                    _input.AdvanceTo(buffer.Start, buffer.Start);
                    return false;
                }

                partial = false;
                Volatile.Write(ref _deadline, long.MaxValue);
                if (Interlocked.Exchange(ref _parkedOutput, null) is { } parked)
                {
                    _output = HttpOutputBuffer.FromRented(parked);
                }

                _request = bytes[.._head.Length];
                _responseStarted = false;
                _owner.OnServed();
                try
                {
                    await _owner.Forwarder.ForwardAsync(new FastPathExchange(this)).ConfigureAwait(false);
                }
                finally
                {
                    _request = default;
                    _input.AdvanceTo(buffer.GetPosition(_head.Length));
                }

                // The response's last bytes go out only now, after the forwarder recorded the request: as on Kestrel's
                // path, a client that has its whole response finds it in the metrics.
                if (!_clientGone)
                {
                    await FlushAsync(_clientClosed).ConfigureAwait(false);
                }

                // Parked while the connection waits for its next request: a busy connection rents no buffer per
                // response, and an idle one gives it back at the next heartbeat.
                Volatile.Write(ref _parkedOutput, _output.DetachRented());

                if (_head.Close || _clientGone)
                {
                    return true;
                }
            }
        }
        catch (Exception e) when (e is IOException or ConnectionAbortedException or OperationCanceledException or ConnectionResetException)
        {
            // The client went away, or the connection was aborted (timeout, drain deadline).
            return true;
        }
    }

    /// <summary>
    /// Starts an attempt on the connection's one <see cref="AttemptTimeout"/>, made by its first attempt
    /// (<paramref name="timeout"/> is read only then; the forwarder's is fixed): no timer armed or reset per request.
    /// </summary>
    public CancellationToken BeginAttempt(TimeSpan timeout, long now) => (_attemptTimeout ??= new AttemptTimeout(_clientClosed, timeout)).Begin(now);

    public void EndAttempt() => _attemptTimeout?.End();

    public bool TryAcquireToken(ClientRateLimiter limiter, out int retryAfterSeconds) =>
        limiter.TryAcquire(_peerTrusted ? limiter.ClientKey(_peer, Header(ForwardedHeaders.ForwardedFor)) : _peerKey, out retryAfterSeconds);

    public void WriteRequestHead(ref HttpOutputBuffer writer, Backend backend, string basePath, ForwarderSettings settings)
    {
        ReadOnlySpan<byte> request = _request.Span;
        writer.Append(_head.IsHead ? "HEAD "u8 : "GET "u8);
        writer.Append(basePath);
        writer.Append(Target);
        writer.Append(" HTTP/1.1\r\nHost: "u8);
        ReadOnlySpan<byte> host = _head.Fields[_head.HostField].Value(request);
        if (settings.PreserveHost)
        {
            writer.Append(host);
        }
        else
        {
            writer.Append(backend.Authority);
        }

        writer.Append("\r\n"u8);
        bool xForwarded = settings.XForwarded;
        HeaderNameSet? untrusted = _peerTrusted ? null : settings.Forwarded.Untrusted;
        foreach (HeaderField field in _head.Fields)
        {
            ReadOnlySpan<byte> name = field.Name(request);
            if (HeaderRules.SkipRequestHeader(name, null, xForwarded, untrusted))
            {
                continue;
            }

            writer.AppendField(name, field.Value(request));
        }

        if (xForwarded)
        {
            writer.Append(ForwardedLines(host));
        }

        writer.Append("\r\n"u8);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask RelayResponseAsync(Http1Connection connection, Http1ResponseHead head, CancellationToken cancellationToken)
    {
        bool chunked = head.Framing is BodyFraming.Chunked or BodyFraming.UntilClose;
        WriteResponseHead(ref _output, connection.Buffer.AsSpan(head.Offset), head, chunked);
        if (head.Framing == BodyFraming.ContentLength && head.ContentLength <= connection.End - connection.Start)
        {
            // The whole body came with the head (a small response): straight into the output, without the copy loop.
            int length = (int)head.ContentLength;
            _output.Append(connection.Buffer.AsSpan(connection.Start, length));
            connection.Start += length;
        }
        else if (head.Framing != BodyFraming.None)
        {
            _body ??= new ClientBodyStream(this);
            _body.Chunked = chunked;
            _body.Remaining = head.Framing == BodyFraming.ContentLength ? head.ContentLength : -1;
            await Http1Response.CopyBodyAsync(connection, head, _body, cancellationToken).ConfigureAwait(false);
            if (chunked)
            {
                _output.Append("0\r\n\r\n"u8);
            }
        }

        // No flush here: ServeAsync flushes the end of the response once the request is accounted for.
    }

    public ValueTask WriteErrorAsync(int status, string text, int retryAfterSeconds = -1)
    {
        byte[] body = Encoding.UTF8.GetBytes(text);
        _output.Append(ResponseHeadBytes.StatusLine(status));
        _output.Append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: "u8);
        _output.Append(body.Length);
        _output.Append("\r\n"u8);
        if (retryAfterSeconds >= 0)
        {
            _output.Append("Retry-After: "u8);
            _output.Append(retryAfterSeconds);
            _output.Append("\r\n"u8);
        }

        WriteTrailingHeadLines(ref _output, hasDate: false);
        if (!_head.IsHead)
        {
            _output.Append(body);
        }

        // Flushed by ServeAsync once the request is accounted for.
        return ValueTask.CompletedTask;
    }

    public bool TryDiscardResponse()
    {
        if (_responseStarted)
        {
            return false;
        }

        _output.Clear();
        return true;
    }

    public void Abort()
    {
        _clientGone = true;
        _context.Abort(new ConnectionAbortedException("the backend's response broke off after it had started"));
    }

    public void Dispose()
    {
        _closeRequest.Dispose();
        _output.Dispose();
        ReturnParkedOutput();
        _attemptTimeout?.Dispose();
    }

    internal void MarkClientGone() => _clientGone = true;

    /// <summary>
    /// Sends what was written to the client socket, straight: no pipe, no transport loop in between (Kestrel's output
    /// pipe stays empty, so its order with these bytes is kept when a connection is handed over).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_output.Length == 0)
        {
            return;
        }

        try
        {
            _responseStarted = true;
            ValueTask send = _socket.SendAsync(_output.Written, cancellationToken);
            if (!send.IsCompletedSuccessfully)
            {
                if (_owner.Settings.MinResponseDataRate is { } rate)
                {
                    // Kestrel's rule: each write extends the deadline by its size at the minimum rate, from no earlier
                    // than now + grace; a send still waiting past it cuts the connection (OnHeartbeat). Only a send that
                    // waits can miss it, so only such a send reads the clock and moves the deadline.
                    long now = ProxyClock.NowMilliseconds;
                    long allowed = (long)(_output.Length * 1000 / rate.BytesPerSecond);
                    Volatile.Write(ref _writeDeadline, Math.Max(now + (long)rate.GracePeriod.TotalMilliseconds, Volatile.Read(ref _writeDeadline)) + allowed);
                }

                _flushPending = true;
                try
                {
                    await send.ConfigureAwait(false);
                }
                finally
                {
                    _flushPending = false;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _clientGone = true;
            throw new IOException("the client closed the connection", e);
        }

        _output.Clear();
    }

    private static bool IsMetricsRequest(ReadOnlySpan<byte> head, string? metricsPath)
    {
        if (metricsPath is null)
        {
            return false;
        }

        // "GET /metrics " or "GET /metrics?..." (HEAD too): compared on the raw request line, before anything is forwarded.
        int start = head.IndexOf((byte)' ') + 1;
        ReadOnlySpan<byte> target = head[start..];
        return target.Length > metricsPath.Length
            && Ascii.Equals(target[..metricsPath.Length], metricsPath)
            && target[metricsPath.Length] is (byte)' ' or (byte)'?';
    }

    /// <summary>Copies a head that spans pipe segments into one buffer (rare: heads are small and segments 4 KiB).</summary>
    private ReadOnlyMemory<byte> Gather(ReadOnlySequence<byte> buffer, in RequestHeadLimits limits)
    {
        int length = (int)Math.Min(buffer.Length, limits.MaxRequestLineBytes + limits.MaxHeaderBytes + 4L);
        if (_scratch is null || _scratch.Length < length)
        {
            _scratch = new byte[Math.Max(length, 4096)];
        }

        buffer.Slice(0, length).CopyTo(_scratch);
        return _scratch.AsMemory(0, length);
    }

    private ReadOnlySpan<char> Decode(ReadOnlySpan<byte> bytes)
    {
        if (_chars.Length < bytes.Length)
        {
            _chars = new char[bytes.Length];
        }

        return _chars.AsSpan(0, Encoding.Latin1.GetChars(bytes, _chars));
    }

    /// <summary>The request's Host as a string, kept across requests: a connection almost always sends the same one.</summary>
    private string HostText(ReadOnlySpan<byte> host)
    {
        if (_hostText is null || !host.SequenceEqual(_hostBytes))
        {
            _hostBytes = host.ToArray();
            _hostText = Encoding.Latin1.GetString(host);
        }

        return _hostText;
    }

    /// <summary>
    /// The X-Forwarded-* lines for this request. From an untrusted peer they depend only on the Host, so the encoded
    /// lines are kept across the connection's requests; a trusted peer's chain is read from each request.
    /// </summary>
    private ReadOnlySpan<byte> ForwardedLines(ReadOnlySpan<byte> host)
    {
        string hostText = HostText(host);
        if (!_peerTrusted && ReferenceEquals(_forwardedLinesHost, hostText))
        {
            return _forwardedLines;
        }

        ForwardedHeaders.Resolve(
            _peerTrusted,
            _peerText,
            _peerTrusted ? Header(ForwardedHeaders.ForwardedFor).ToString() : null,
            _peerTrusted ? Header(ForwardedHeaders.ForwardedProto).ToString() : null,
            _peerTrusted ? Header(ForwardedHeaders.ForwardedHost).ToString() : null,
            Scheme,
            hostText,
            out string forwardedFor,
            out string proto,
            out string? forwardedHost);
        var lines = new HttpOutputBuffer(256);
        try
        {
            lines.AppendHeader(ForwardedHeaders.ForwardedFor, forwardedFor);
            lines.AppendHeader(ForwardedHeaders.ForwardedProto, proto);
            if (forwardedHost is not null)
            {
                lines.AppendHeader(ForwardedHeaders.ForwardedHost, forwardedHost);
            }

            _forwardedLines = lines.Written.ToArray();
        }
        finally
        {
            lines.Dispose();
        }

        _forwardedLinesHost = _peerTrusted ? null : hostText;
        return _forwardedLines;
    }

    private void WriteResponseHead(ref HttpOutputBuffer writer, ReadOnlySpan<byte> source, Http1ResponseHead head, bool chunked)
    {
        writer.Append(ResponseHeadBytes.StatusLine(head.Status));
        string? connectionNames = head.ConnectionNames;
        // Consecutive kept lines already written "Name: value" are copied as one block: a typical head is two or three
        // copies instead of four appends per field.
        int runStart = 0;
        int runEnd = -1;
        foreach (HeaderField field in head.Fields)
        {
            ReadOnlySpan<byte> name = field.Name(source);
            // Content-Length is written below from the parsed length: the proxy frames every response itself, so a
            // Connection header that names it, or a repeat, cannot leave a body unframed or framed twice. (A skipped
            // line ends the run of copied lines: the next one does not start where the run ends.)
            if (HeaderRules.IsHopByHop(name, connectionNames) || (name.Length == 14 && Ascii.EqualsIgnoreCase(name, "Content-Length"u8)))
            {
                continue;
            }

            bool canonical = field.IsCanonical(source);
            if (canonical && field.NameStart == runEnd)
            {
                runEnd = field.LineEnd;
                continue;
            }

            FlushRun(ref writer, source, runStart, runEnd);
            if (canonical)
            {
                runStart = field.NameStart;
                runEnd = field.LineEnd;
            }
            else
            {
                runEnd = -1;
                writer.AppendField(name, field.Value(source));
            }
        }

        FlushRun(ref writer, source, runStart, runEnd);
        if (head.RelaysContentLength)
        {
            writer.Append("Content-Length: "u8);
            writer.Append(head.ContentLength);
            writer.Append("\r\n"u8);
        }
        else if (chunked)
        {
            writer.Append("Transfer-Encoding: "u8);
            if (head.OtherCodings is { } codings)
            {
                // gzip and the like stay on the body; only the chunked framing is the proxy's own.
                writer.Append(codings);
                writer.Append(", "u8);
            }

            writer.Append("chunked\r\n"u8);
        }

        WriteTrailingHeadLines(ref writer, head.HasDate);
    }

    /// <summary>Writes the run of kept lines copied as they came, if one is open; returns -1 (no run open).</summary>
    private static int FlushRun(ref HttpOutputBuffer writer, ReadOnlySpan<byte> source, int runStart, int runEnd)
    {
        if (runEnd >= 0)
        {
            writer.Append(source[runStart..runEnd]);
        }

        return -1;
    }

    /// <summary>Date when the response has none (as Kestrel adds), Connection: close when this is the last response, and the blank line.</summary>
    private void WriteTrailingHeadLines(ref HttpOutputBuffer writer, bool hasDate)
    {
        if (!hasDate)
        {
            writer.Append("Date: "u8);
            writer.Append(ResponseHeadBytes.Date());
            writer.Append("\r\n"u8);
        }

        if (_head.Close || _closeRequested)
        {
            writer.Append("Connection: close\r\n"u8);
        }

        writer.Append("\r\n"u8);
    }

    private void OnHeartbeat()
    {
        // Once a second, from Kestrel's heartbeat thread: the timeouts of Kestrel's own layer (keep-alive, request
        // headers, minimum response data rate).
        if (_handedOff)
        {
            return;
        }

        if (_reading)
        {
            ReturnParkedOutput();
        }

        long now = ProxyClock.NowMilliseconds;
        if (_reading && now > Volatile.Read(ref _deadline))
        {
            _context.Abort(new ConnectionAbortedException("keep-alive or request headers timeout"));
        }
        else if (_flushPending && _owner.Settings.MinResponseDataRate is not null && now > Volatile.Read(ref _writeDeadline))
        {
            _clientGone = true;
            _context.Abort(new ConnectionAbortedException("the client read the response slower than Limits:MinResponseBytesPerSecond"));
        }
    }

    private void ReturnParkedOutput()
    {
        if (Interlocked.Exchange(ref _parkedOutput, null) is { } parked)
        {
            ArrayPool<byte>.Shared.Return(parked);
        }
    }

    private void OnCloseRequested()
    {
        // Graceful drain: an idle connection closes now, a busy one after its response (which says Connection: close).
        if (!_handedOff)
        {
            _closeRequested = true;
            _input.CancelPendingRead();
        }
    }
}

/// <summary>The response body on its way to a fast-path client: straight into the connection's pipe, chunked when asked.</summary>
internal sealed class ClientBodyStream(Http1FastPathConnection connection) : Stream
{
    /// <summary>Gets or sets whether each write goes out as one chunk of the chunked coding.</summary>
    public bool Chunked { get; set; }

    /// <summary>
    /// Gets or sets the body bytes still to come when the length is known, else -1. The write that completes the body
    /// is not flushed: the connection flushes it after the request is recorded.
    /// </summary>
    public long Remaining { get; set; } = -1;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return;
        }

        connection.WriteBody(buffer.Span, Chunked);
        if (Remaining >= 0 && (Remaining -= buffer.Length) == 0)
        {
            return;
        }

        await connection.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("the fast path writes asynchronously");

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>Response head pieces written often: status lines by code, and the Date value of the current second.</summary>
internal static class ResponseHeadBytes
{
    private static readonly byte[]?[] StatusLines = new byte[600][];
    private static DateBytes? _date;

    /// <summary>Gets <c>HTTP/1.1 {code} {reason}\r\n</c> with the standard reason phrase (the backend's own is not relayed, as with Kestrel).</summary>
    public static byte[] StatusLine(int status)
    {
        if ((uint)status >= (uint)StatusLines.Length)
        {
            return Encoding.ASCII.GetBytes($"HTTP/1.1 {status} \r\n");
        }

        return StatusLines[status] ??= Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {ReasonPhrases.GetReasonPhrase(status)}\r\n");
    }

    /// <summary>Gets the IMF-fixdate of the current second (made once a second).</summary>
    public static byte[] Date()
    {
        long second = Environment.TickCount64 / 1000;
        DateBytes? date = Volatile.Read(ref _date);
        if (date is null || date.Second != second)
        {
            date = new DateBytes(second, Encoding.ASCII.GetBytes(DateTimeOffset.UtcNow.ToString("r", System.Globalization.CultureInfo.InvariantCulture)));
            Volatile.Write(ref _date, date);
        }

        return date.Bytes;
    }

    private sealed record DateBytes(long Second, byte[] Bytes);
}
