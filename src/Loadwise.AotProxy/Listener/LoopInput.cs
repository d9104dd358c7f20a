using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;

namespace Loadwise.AotProxy.Listener;

/// <summary>
/// A pipe reader straight over a <see cref="LoopSocket"/>, without a pipe: one pooled buffer the socket receives into,
/// handed out as a single segment. Enough for the fast path's request heads (it hands anything larger to Kestrel);
/// what it read and did not consume goes to Kestrel's pipe when the connection is handed over. With
/// <c>releaseWhileWaiting</c> (Kestrel's WaitForDataBeforeAllocatingBuffer) an idle connection holds no buffer, at the
/// cost of a pool rent and return per request; without, it keeps its 4 KiB.
/// </summary>
/// <example><code>
/// ReadResult result = await input.ReadAsync();
/// input.AdvanceTo(result.Buffer.GetPosition(headLength));
/// </code></example>
internal sealed class LoopInput(LoopSocket socket, bool releaseWhileWaiting) : PipeReader, IValueTaskSource<ReadResult>
{
    private static readonly Action<object?> OnReadableCallback = static state => ((LoopInput)state!).OnReadable();

    private const int InitialSize = 4096;

    private byte[]? _buffer;
    private int _start;
    private int _examined;
    private int _end;
    private bool _ended;
    private volatile bool _cancelRequested;

    // The read that waits for the socket, without a token (the fast path's): completed by the loop from OnReadable,
    // one reusable source per connection instead of an async method's box per wait.
    private ManualResetValueTaskSourceCore<ReadResult> _waiting;

    private ReadOnlySequence<byte> Unconsumed => _buffer is null ? default : new ReadOnlySequence<byte>(_buffer, _start, _end - _start);

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_cancelRequested)
        {
            _cancelRequested = false;
            return new ValueTask<ReadResult>(new ReadResult(Unconsumed, isCanceled: true, _ended));
        }

        if (_end > _examined || _ended)
        {
            return new ValueTask<ReadResult>(new ReadResult(Unconsumed, isCanceled: false, _ended));
        }

        MakeRoom();
        int seen = socket.ReadSequence;
        int read = TryReceive(seen);
        if (read >= 0)
        {
            return new ValueTask<ReadResult>(Received(read));
        }

        if (_start == _end && releaseWhileWaiting)
        {
            // Nothing held: a connection waiting for its next request holds no buffer (it is rented again on data).
            Release();
        }

        if (cancellationToken.CanBeCanceled)
        {
            return ReadWhenReadableAsync(seen, cancellationToken);
        }

        _waiting.Reset();
        short version = _waiting.Version;
        if (!socket.WaitReadableThen(seen, OnReadableCallback, this))
        {
            // An edge came meanwhile: take it now, as the loop would have.
            OnReadable();
        }

        return new ValueTask<ReadResult>(this, version);
    }

    /// <summary>At a read edge (on the loop, inline): completes the waiting read, or waits for the next edge.</summary>
    private void OnReadable()
    {
        while (true)
        {
            if (_cancelRequested)
            {
                _cancelRequested = false;
                _waiting.SetResult(new ReadResult(Unconsumed, isCanceled: true, _ended));
                return;
            }

            int seen = socket.ReadSequence;
            int read;
            try
            {
                MakeRoom();
                read = TryReceive(seen);
            }
            catch (Exception e)
            {
                _waiting.SetException(e);
                return;
            }

            if (read >= 0)
            {
                _waiting.SetResult(Received(read));
                return;
            }

            if (socket.WaitReadableThen(seen, OnReadableCallback, this))
            {
                return;
            }
        }
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _waiting.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _waiting.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _waiting.OnCompleted(continuation, state, token, flags);

    [MethodImpl(MethodImplOptions.NoInlining)]
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> ReadWhenReadableAsync(int seen, CancellationToken cancellationToken)
    {
        while (true)
        {
            await socket.WaitReadableAsync(seen, cancellationToken).ConfigureAwait(false);
            if (_cancelRequested)
            {
                _cancelRequested = false;
                return new ReadResult(Unconsumed, isCanceled: true, _ended);
            }

            seen = socket.ReadSequence;
            MakeRoom();
            int read = TryReceive(seen);
            if (read >= 0)
            {
                return Received(read);
            }
        }
    }

    /// <summary>A receive into the free room; a broken connection reads as Kestrel's transport reports it (<see cref="ConnectionResetException"/>).</summary>
    private int TryReceive(int seen)
    {
        try
        {
            return socket.TryReceive(_buffer.AsSpan(_end), seen);
        }
        catch (SocketException e)
        {
            throw new ConnectionResetException(e.Message, e);
        }
    }

    private ReadResult Received(int read)
    {
        _end += read;
        _ended = read == 0;
        return new ReadResult(Unconsumed, isCanceled: false, _ended);
    }

    /// <summary>Room after the unconsumed bytes: the consumed ones moved out, the buffer doubled when it is full.</summary>
    private void MakeRoom()
    {
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(InitialSize);
            return;
        }

        if (_start == _end)
        {
            _start = _examined = _end = 0;
            return;
        }

        if (_end < _buffer.Length)
        {
            return;
        }

        byte[] target = _start > 0 ? _buffer : ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
        _buffer.AsSpan(_start, _end - _start).CopyTo(target);
        if (!ReferenceEquals(target, _buffer))
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = target;
        }

        _end -= _start;
        _examined -= _start;
        _start = 0;
    }

    public override bool TryRead(out ReadResult result)
    {
        if (_end > _examined || _ended || _cancelRequested)
        {
            result = new ReadResult(Unconsumed, _cancelRequested, _ended);
            _cancelRequested = false;
            return true;
        }

        result = default;
        return false;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        // Positions of a single-array sequence are array indexes.
        _start = consumed.GetObject() is null ? _start : consumed.GetInteger();
        _examined = Math.Max(_start, examined.GetObject() is null ? _examined : examined.GetInteger());
        if (_start == _end)
        {
            _start = _examined = _end = 0;
        }
    }

    public override void CancelPendingRead()
    {
        _cancelRequested = true;
        socket.WakeReader();
    }

    public override void Complete(Exception? exception = null) => Release();

    /// <summary>Takes the bytes read and not consumed (for Kestrel's pipe), and gives the buffer back.</summary>
    internal byte[]? TakeUnconsumed()
    {
        byte[]? unconsumed = _end > _start ? _buffer.AsSpan(_start, _end - _start).ToArray() : null;
        Release();
        return unconsumed;
    }

    /// <summary>Gives the buffer back to the pool (what it held is gone).</summary>
    internal void Release()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            _start = _examined = _end = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
