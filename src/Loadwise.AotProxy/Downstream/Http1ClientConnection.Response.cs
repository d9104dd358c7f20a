using System.Buffers;
using System.Buffers.Text;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Loadwise.AotProxy.Http;
using Microsoft.AspNetCore.Connections;

namespace Loadwise.AotProxy.Downstream;

/// <summary>The response a codec connection sends: written into one output buffer and sent straight on the socket.</summary>
internal sealed partial class Http1ClientConnection
{
    private HttpOutputBuffer _output;

    // The output buffer while the connection waits for its next request; the heartbeat gives it back to the pool if
    // it is still there (an idle connection holds none), else the next request takes it up again.
    private byte[]? _parkedOutput;
    private ClientBodyStream? _body;
    private bool _chunked;
    private long _writeDeadline;
    private volatile bool _flushPending;
    private bool _clientGone;

    // Whether any byte of the current response has gone to the client (until then an error can replace it).
    private bool _responseStarted;

    /// <summary>Gets the body stream of the response <see cref="BeginResponse"/> started.</summary>
    public Stream ResponseBody => _body!;

    /// <summary>Writes the status line and end-to-end headers, framed by the proxy itself: by the length, else chunked.</summary>
    public void BeginResponse(ResponseHead head, ReadOnlySpan<byte> headBytes)
    {
        _chunked = head.Framing is BodyFraming.Chunked or BodyFraming.UntilClose;
        ResponseWriter.WriteHead(ref _output, headBytes, head, _chunked);
        WriteTrailingHeadLines(head.HasDate);
        _body ??= new ClientBodyStream(this);
        _body.Chunked = _chunked;
        _body.Remaining = head.Framing == BodyFraming.ContentLength ? head.ContentLength : -1;
    }

    /// <summary>Ends the body: its last chunk when chunked. No flush: the request loop sends the end once the request is recorded.</summary>
    public void EndResponse()
    {
        if (_chunked)
        {
            _output.Append("0\r\n\r\n"u8);
        }
    }

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

        WriteTrailingHeadLines(hasDate: false);
        if (!_head.IsHead)
        {
            _output.Append(body);
        }

        // Flushed by the request loop once the request is accounted for.
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
                    long now = _owner.Clock.NowMilliseconds;
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

    /// <summary>Takes up the parked output buffer (if the heartbeat did not give it back) for a new response.</summary>
    private void TakeUpOutput()
    {
        _responseStarted = false;
        if (Interlocked.Exchange(ref _parkedOutput, null) is { } parked)
        {
            _output = HttpOutputBuffer.FromRented(parked);
        }
    }

    /// <summary>
    /// Parks the output buffer while the connection waits for its next request: a busy connection rents no buffer per
    /// response, and an idle one gives it back at the next heartbeat.
    /// </summary>
    private void ParkOutput() => Volatile.Write(ref _parkedOutput, _output.DetachRented());

    private void ReturnParkedOutput()
    {
        if (Interlocked.Exchange(ref _parkedOutput, null) is { } parked)
        {
            ArrayPool<byte>.Shared.Return(parked);
            _owner.OnOutputReturned();
        }
    }

    /// <summary>Date when the response has none (as Kestrel adds), Connection: close when this is the last response, and the blank line.</summary>
    private void WriteTrailingHeadLines(bool hasDate)
    {
        if (!hasDate)
        {
            _output.Append("Date: "u8);
            _output.Append(ResponseHeadBytes.Date());
            _output.Append("\r\n"u8);
        }

        if (_head.Close || _closeRequested || BodyUnread)
        {
            // The last response: the client asked, the proxy drains, or part of the body was never read (so the next
            // request's start cannot be found).
            _output.Append("Connection: close\r\n"u8);
        }

        _output.Append("\r\n"u8);
    }
}
