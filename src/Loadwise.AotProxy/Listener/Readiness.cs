using System.Threading.Tasks.Sources;

namespace Loadwise.AotProxy.Listener;

/// <summary>
/// One direction (read or write) of a descriptor on an edge-triggered epoll: counts the edges the loop saw, and lets
/// one waiter at a time wait for the next edge after the count it observed before its system call. Taking the count
/// before the call and waiting only while it is unchanged is what makes a lost wake-up impossible: an edge between the
/// call and the wait has already moved the count. The waiter is either this reusable <see cref="IValueTaskSource"/>
/// (<see cref="WaitAsync"/>) or a callback (<see cref="WaitThen"/>); either runs inline on the thread that signals
/// (the loop's), as the runtime's own inline socket completions do, and must take a spurious wake-up in its stride.
/// </summary>
/// <example><code>
/// int seen = readiness.Sequence;
/// nint read = LoopNative.recv(fd, buffer, length, 0);
/// if (read &lt; 0 &amp;&amp; LoopNative.Errno == LoopNative.EAGAIN)
/// {
///     await readiness.WaitAsync(seen, cancellationToken); // then try again
/// }
/// </code></example>
internal sealed class Readiness : IValueTaskSource
{
    private ManualResetValueTaskSourceCore<bool> _core;
    private CancellationTokenRegistration _cancellation;
    private CancellationToken _token;
    private int _sequence;

    // 0: nobody waits; 1: the ValueTask waiter (_core); 2: the callback waiter (_callback).
    private int _waiting;
    private Action<object?>? _callback;
    private object? _callbackState;

    /// <summary>Gets the count of edges seen so far; read it before the system call whose failure leads to a wait.</summary>
    public int Sequence => Volatile.Read(ref _sequence);

    /// <summary>Called by the loop on an edge: counts it and wakes the waiter, if any (inline).</summary>
    public void Signal()
    {
        Interlocked.Increment(ref _sequence);
        Wake(Interlocked.Exchange(ref _waiting, 0));
    }

    /// <summary>
    /// Calls <paramref name="callback"/> (inline, on the signalling thread) at the first edge after
    /// <paramref name="observed"/>; false when one already was (nothing registered: try again now). For a reader
    /// that completes its own reusable source, without an async method and its box per wait.
    /// </summary>
    public bool WaitThen(int observed, Action<object?> callback, object? state)
    {
        if (Volatile.Read(ref _sequence) != observed)
        {
            return false;
        }

        _callback = callback;
        _callbackState = state;
        Interlocked.Exchange(ref _waiting, 2);
        return Volatile.Read(ref _sequence) == observed || Interlocked.Exchange(ref _waiting, 0) == 0;
    }

    /// <summary>Takes back a callback registered by <see cref="WaitThen"/> that no edge has called yet; false when there is none.</summary>
    public bool TakeCallback() => Interlocked.CompareExchange(ref _waiting, 0, 2) == 2;

    private void Wake(int waiter)
    {
        if (waiter == 1)
        {
            _core.SetResult(true);
        }
        else if (waiter == 2)
        {
            _callback!(_callbackState);
        }
    }

    /// <summary>Completes when an edge after <paramref name="observed"/> was seen; at once when one already was.</summary>
    public ValueTask WaitAsync(int observed, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _sequence) != observed)
        {
            return default;
        }

        _core.Reset();
        Interlocked.Exchange(ref _waiting, 1);
        // Between publishing and the second look: if the loop took the waiter meanwhile, it completes it.
        if (Volatile.Read(ref _sequence) != observed && Interlocked.Exchange(ref _waiting, 0) == 1)
        {
            // An edge came between the first look and publishing the waiter, and the loop did not take the waiter.
            return default;
        }

        if (cancellationToken.CanBeCanceled)
        {
            _token = cancellationToken;
            _cancellation = cancellationToken.UnsafeRegister(static state => ((Readiness)state!).Cancel(), this);
        }

        return new ValueTask(this, _core.Version);
    }

    /// <summary>Fails the waiter, if any, with <paramref name="error"/> (a socket closed while its operation waited).</summary>
    public void Fail(Exception error)
    {
        int waiter = Interlocked.Exchange(ref _waiting, 0);
        if (waiter == 1)
        {
            _core.SetException(error);
        }
        else
        {
            // A callback waiter tries its system call again and meets the failure there.
            Wake(waiter);
        }
    }

    private void Cancel() => Fail(new OperationCanceledException(_token));

    void IValueTaskSource.GetResult(short token)
    {
        // Dispose, not Unregister: a cancellation still running on another thread is waited for, so it cannot fail the
        // next waiter.
        _cancellation.Dispose();
        _cancellation = default;
        _token = default;
        _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
