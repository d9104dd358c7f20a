using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Threading;
using Microsoft.AspNetCore.Connections;

namespace Loadwise.AotProxy.Downstream;

/// <summary>
/// The request body a codec connection forwards: framed by its one Content-Length. A small one (up to
/// <see cref="Http1CodecSettings.MaxBufferedBodyBytes"/>) is read whole before the first attempt, so that a retry can
/// send it again; a larger one is streamed from the connection's input as the backend takes it, never held whole.
/// </summary>
internal sealed partial class Http1ClientConnection
{
    private ReadOnlyMemory<byte> _bufferedBody;
    private byte[]? _rentedRequest;
    private bool _streamed;
    private bool _bodyStarted;
    private long _streamedRemaining;
    private ReadOnlySequence<byte> _streamBuffer;
    private SequencePosition _streamPosition;
    private long _bodyStartedAt;

    public bool BodyStarted => _bodyStarted;

    public bool TryGetBufferedBody(out ReadOnlyMemory<byte> body)
    {
        body = _bufferedBody;
        return _head.BodyLength > 0 && !_streamed;
    }

    /// <summary>Reads the next bytes of a streamed body, from what the input already holds or as more arrive.</summary>
    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReadBodyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (!_streamed || _streamedRemaining == 0 || destination.IsEmpty)
        {
            return 0;
        }

        ReadOnlySequence<byte> rest = _streamBuffer.Slice(_streamPosition);
        if (rest.IsEmpty)
        {
            // Consumed up to here: the head and what was sent of the body are released, and the input may read on.
            _input.AdvanceTo(_streamPosition);
            _request = default;
            ReadResult result;
            Volatile.Write(ref _deadline, BodyDeadline(_head.BodyLength - _streamedRemaining));
            _reading = true;
            try
            {
                result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ConnectionAbortedException or ConnectionResetException)
            {
                _clientGone = true;
                throw new ClientBodyException(0, "the client's connection ended inside its body", e);
            }
            finally
            {
                _reading = false;
                Volatile.Write(ref _deadline, long.MaxValue);
            }

            _streamBuffer = result.Buffer;
            _streamPosition = _streamBuffer.Start;
            rest = _streamBuffer;
            if (rest.IsEmpty)
            {
                _input.AdvanceTo(_streamPosition);
                if (result.IsCompleted || result.IsCanceled)
                {
                    _clientGone = result.IsCompleted;
                    throw new ClientBodyException(0, "the client closed the connection inside its body");
                }
            }
        }

        int take = (int)Math.Min(Math.Min(rest.Length, destination.Length), _streamedRemaining);
        rest.Slice(0, take).CopyTo(destination.Span);
        _streamPosition = _streamBuffer.GetPosition(take, _streamPosition);
        _streamedRemaining -= take;
        _bodyStarted = true;
        return take;
    }

    /// <summary>
    /// Takes up the body of the request just parsed from <paramref name="bytes"/> (the contiguous head and what came
    /// after it in <paramref name="buffer"/>): held whole when it is all there, streamed when it is too large to hold.
    /// Returns false when a small body has not all arrived yet (the caller reads the rest first).
    /// </summary>
    private bool TakeUpBody(ReadOnlySequence<byte> buffer, ReadOnlyMemory<byte> bytes, out SequencePosition end)
    {
        long length = _head.BodyLength;
        _streamed = false;
        _bodyStarted = false;
        _bodyStartedAt = _owner.Clock.NowMilliseconds;
        _streamedRemaining = 0;
        _bufferedBody = default;
        if (length == 0)
        {
            end = buffer.GetPosition(_head.Length);
            return true;
        }

        if (bytes.Length - _head.Length >= length)
        {
            _bufferedBody = bytes.Slice(_head.Length, (int)length);
            end = buffer.GetPosition(_head.Length + length);
            return true;
        }

        end = default;
        if (length <= _owner.Settings.MaxBufferedBodyBytes)
        {
            return false;
        }

        _streamed = true;
        _streamedRemaining = length;
        _streamBuffer = buffer;
        _streamPosition = buffer.GetPosition(_head.Length);
        return true;
    }

    /// <summary>
    /// Reads on until the whole request (head and a small body) is in the input, within the request-headers timeout:
    /// the buffer that holds it, or null when the client left first (or the proxy is draining).
    /// </summary>
    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskMethodBuilder<>))]
    private async ValueTask<ReadOnlySequence<byte>?> ReadWholeRequestAsync(ReadOnlySequence<byte> buffer, bool completed, long needed)
    {
        try
        {
            while (buffer.Length < needed)
            {
                _input.AdvanceTo(buffer.Start, buffer.End);
                if (completed)
                {
                    return null;
                }

                Volatile.Write(ref _deadline, BodyDeadline(buffer.Length - _head.Length));
                _reading = true;
                ReadResult result = await _input.ReadAsync().ConfigureAwait(false);
                _reading = false;
                buffer = result.Buffer;
                completed = result.IsCompleted;
                if (result.IsCanceled)
                {
                    _input.AdvanceTo(buffer.Start, buffer.End);
                    return null;
                }
            }

            return buffer;
        }
        finally
        {
            Volatile.Write(ref _deadline, long.MaxValue);
        }
    }

    /// <summary>The whole request as one block: the buffer's first segment when it holds it, else a rented copy.</summary>
    private ReadOnlyMemory<byte> Contiguous(ReadOnlySequence<byte> buffer, long length)
    {
        if (buffer.First.Length >= length)
        {
            return buffer.First[..(int)length];
        }

        _rentedRequest = ArrayPool<byte>.Shared.Rent((int)length);
        buffer.Slice(0, length).CopyTo(_rentedRequest);
        return _rentedRequest.AsMemory(0, (int)length);
    }

    /// <summary>Ends the request's body: the input is consumed up to its end (or what was read of a streamed one).</summary>
    private void EndBody(SequencePosition end)
    {
        _input.AdvanceTo(_streamed ? _streamPosition : end);
        _bufferedBody = default;
        if (_rentedRequest is { } rented)
        {
            _rentedRequest = null;
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// When the next body bytes must have come, having <paramref name="received"/>: Kestrel's minimum data rate (the
    /// grace period, then the bytes so far at the rate), or without one the request-headers timeout from now.
    /// </summary>
    private long BodyDeadline(long received)
    {
        Http1CodecSettings settings = _owner.Settings;
        return settings.MinRequestBodyDataRate is { } rate
            ? _bodyStartedAt + (long)rate.GracePeriod.TotalMilliseconds + (long)(received * 1000 / rate.BytesPerSecond)
            : _owner.Clock.NowMilliseconds + (long)settings.RequestHeadersTimeout.TotalMilliseconds;
    }

    /// <summary>Gets whether part of the body was never read (the backend answered early, or failed): the connection cannot carry another request.</summary>
    private bool BodyUnread => _streamed && _streamedRemaining > 0;
}
