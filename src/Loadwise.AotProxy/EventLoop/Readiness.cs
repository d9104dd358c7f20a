using System.Threading.Tasks.Sources;

namespace Loadwise.AotProxy.EventLoop;

/// <summary>
/// One direction (read or write) of a descriptor on an edge-triggered epoll: counts the edges the loop saw, and lets
/// one waiter at a time wait for the next edge after the count it observed before its system call. Taking the count
/// before the call and waiting only while it is unchanged is what makes a lost wake-up impossible: an edge between the
/// call and the wait has already moved the count. The waiter is a reusable <see cref="IValueTaskSource"/>; its
/// continuation runs inline on the thread that signals (the loop's), as the runtime's own inline socket completions do.
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
    private int _waiting;

    /// <summary>Gets the count of edges seen so far; read it before the system call whose failure leads to a wait.</summary>
    public int Sequence => Volatile.Read(ref _sequence);

    /// <summary>Called by the loop on an edge: counts it and wakes the waiter, if any (inline).</summary>
    public void Signal()
    {
        Interlocked.Increment(ref _sequence);
        if (Interlocked.Exchange(ref _waiting, 0) == 1)
        {
            _core.SetResult(true);
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
        if (Interlocked.Exchange(ref _waiting, 0) == 1)
        {
            _core.SetException(error);
        }
    }

    private void Cancel() => Fail(new OperationCanceledException(_token));

    void IValueTaskSource.GetResult(short token)
    {
        _cancellation.Unregister();
        _cancellation = default;
        _token = default;
        _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
