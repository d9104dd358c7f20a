using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Listener;
using Loadwise.AotProxy.Router;
using Loadwise.AotProxy.Threading;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Loadwise.AotProxy.Downstream;

/// <summary>
/// One client connection on the HTTP/1.1 codec: its request loop and timeouts here; the upstream request head it
/// writes and the response it sends in the other parts of this class. What its exchange
/// (<see cref="Http1ClientExchange"/>) does.
/// </summary>
internal sealed partial class Http1ClientConnection : IDisposable
{
    private readonly Http1Codec _owner;
    private readonly ConnectionContext _context;
    private readonly PipeReader _input;
    private readonly ConnectionSocket _socket;
    private readonly IPAddress? _peer;
    private bool _peerTrusted;
    private ForwardedHeaders? _trustRules; // the rules _peerTrusted was decided by (a reload may change them)
    private readonly CancellationTokenRegistration _closeRequest;

    // Fixed for the connection's life, and the transport's getter is a virtual call made several times per request.
    private readonly CancellationToken _clientClosed;
    private readonly RequestHead _head = new();
    private AttemptTimeout? _attemptTimeout;
    private ReadOnlyMemory<byte> _request;
    private byte[]? _scratch;
    private char[] _chars = new char[256];

    // Read by the heartbeat thread.
    private long _deadline = long.MaxValue;
    private volatile bool _reading;
    private volatile bool _handedOff;
    private volatile bool _closeRequested;

    /// <summary>
    /// Creates the connection over <paramref name="input"/> and <paramref name="socket"/>; <paramref name="clientClosed"/>
    /// fires when the connection breaks (not on a half-close).
    /// </summary>
    public Http1ClientConnection(
        Http1Codec owner, ConnectionContext context, PipeReader input, ConnectionSocket socket, CancellationToken clientClosed, IConnectionHeartbeatFeature heartbeat, IConnectionLifetimeNotificationFeature lifetime)
    {
        _owner = owner;
        _context = context;
        _clientClosed = clientClosed;
        _input = input;
        _socket = socket;
        _peer = (context.RemoteEndPoint as IPEndPoint)?.Address;
        _peerText = ForwardedHeaders.PeerText(_peer);
        heartbeat.OnHeartbeat(static state => ((Http1ClientConnection)state!).OnHeartbeat(), this);
        _closeRequest = lifetime.ConnectionClosedRequested.Register(static state => ((Http1ClientConnection)state!).OnCloseRequested(), this);
    }

    public string Method => _head.Method;

    public long BodyLength => _head.BodyLength;

    public CancellationToken ClientAborted => _clientClosed;

    public bool ClientGone => _clientGone || _clientClosed.IsCancellationRequested;

    public IPAddress? Peer => _peer;

    /// <summary>Gets the path (valid until the next call that decodes: Path, Query or Header).</summary>
    public ReadOnlySpan<char> Path => Decode(Target[.._head.PathLength]);

    /// <summary>Gets the raw query with its <c>?</c> (valid until the next call that decodes).</summary>
    public ReadOnlySpan<char> Query => Decode(Target[_head.PathLength..]);

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
        Http1CodecSettings settings = _owner.Settings;
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
                    Volatile.Write(ref _deadline, _owner.Clock.NowMilliseconds + (long)settings.KeepAliveTimeout.TotalMilliseconds);
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
                // The configuration in force for this request, from its head to its response.
                Forwarder forwarder = _owner.Forwarders.Current;
                RequestHeadParse parse = _head.TryParse(bytes.Span, settings.Limits, forwarder.ReadHeaders);
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
                        Volatile.Write(ref _deadline, _owner.Clock.NowMilliseconds + (long)settings.RequestHeadersTimeout.TotalMilliseconds);
                    }

                    continue;
                }

                // HttpClient reaches the backends that are not plain HTTP/1.1, and it runs only behind Kestrel's layer.
                if (parse == RequestHeadParse.HandOff || !forwarder.AllBackendsDirect || _head.PathIsOneOf(bytes.Span, settings.HandOffPaths))
                {
                    // Nothing consumed or examined: Kestrel reads this request as if it were the first.
                    _handedOff = true;
                    _input.AdvanceTo(buffer.Start, buffer.Start);
                    return false;
                }

                partial = false;
                Volatile.Write(ref _deadline, long.MaxValue);
                if (!ReferenceEquals(forwarder.Forwarded, _trustRules))
                {
                    _trustRules = forwarder.Forwarded;
                    _peerTrusted = _trustRules.IsTrusted(_peer);
                    _forwardedLinesHost = null;
                }

                if (!TakeUpBody(buffer, bytes, out SequencePosition end))
                {
                    // A small body that has not all arrived: read it whole first, so that a retry can send it again.
                    long whole = _head.Length + _head.BodyLength;
                    if (await ReadWholeRequestAsync(buffer, result.IsCompleted, whole).ConfigureAwait(false) is not { } all)
                    {
                        return true;
                    }

                    buffer = all;
                    bytes = Contiguous(buffer, whole);
                    _bufferedBody = bytes[_head.Length..];
                    end = buffer.GetPosition(whole);
                }

                TakeUpOutput();
                _request = bytes[.._head.Length];
                _owner.OnServed();
                // Held from here to the end, so that a reload since the head was read cannot retire it under the request.
                forwarder = _owner.Forwarders.Acquire();
                try
                {
                    await forwarder.ForwardAsync(new Http1ClientExchange(this)).ConfigureAwait(false);
                }
                finally
                {
                    forwarder.Release();
                    _request = default;
                    EndBody(end);
                }

                // The response's last bytes go out only now, after the router recorded the request: as on Kestrel's
                // path, a client that has its whole response finds it in the metrics.
                if (!_clientGone)
                {
                    await FlushAsync(_clientClosed).ConfigureAwait(false);
                }

                ParkOutput();
                if (_head.Close || _clientGone || BodyUnread)
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
    /// (<paramref name="timeout"/> is read only then; the router's is fixed): no timer armed or reset per request.
    /// </summary>
    public CancellationToken BeginAttempt(TimeSpan timeout, long now) => (_attemptTimeout ??= new AttemptTimeout(_clientClosed, timeout, _owner.Clock)).Begin(now);

    public void EndAttempt() => _attemptTimeout?.End();

    public void Dispose()
    {
        _closeRequest.Dispose();
        _output.Dispose();
        ReturnParkedOutput();
        _attemptTimeout?.Dispose();
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

        long now = _owner.Clock.NowMilliseconds;
        if (_reading && now > Volatile.Read(ref _deadline))
        {
            _context.Abort(new ConnectionAbortedException("keep-alive, request headers or request body timeout"));
        }
        else if (_flushPending && _owner.Settings.MinResponseDataRate is not null && now > Volatile.Read(ref _writeDeadline))
        {
            _clientGone = true;
            _context.Abort(new ConnectionAbortedException("the client read the response slower than Limits:MinResponseBytesPerSecond"));
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
