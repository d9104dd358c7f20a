using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace Loadwise.AotProxy.Listener;

/// <summary>The receive that waits: one reusable source per socket, completed by the loop's read edge.</summary>
internal sealed partial class LoopSocket
{
    private static readonly Action<object?> OnReceivableCallback = static state => ((LoopSocket)state!).OnReceivable();

    private ManualResetValueTaskSourceCore<int> _receiving;
    private Memory<byte> _receiveBuffer;
    private CancellationToken _receiveToken;
    private CancellationTokenRegistration _receiveCancellation;

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
}
