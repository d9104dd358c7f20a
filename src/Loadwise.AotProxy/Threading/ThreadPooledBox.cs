using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace Loadwise.AotProxy.Threading;

/// <summary>What the <see cref="ThreadPooledValueTaskMethodBuilder"/>s' tasks wait on, whatever the state machine.</summary>
/// <typeparam name="TResult">The method's result (<see cref="VoidResult"/> for none).</typeparam>
internal abstract class ThreadPooledBox<TResult> : IValueTaskSource, IValueTaskSource<TResult>
{
    private protected ManualResetValueTaskSourceCore<TResult> _core;

    /// <summary>Gets the token of the box's current use.</summary>
    internal short Version => _core.Version;

    internal void SetResult(TResult result) => _core.SetResult(result);

    internal void SetException(Exception exception) => _core.SetException(exception);

    /// <inheritdoc/>
    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    /// <inheritdoc/>
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>Gets the outcome (throws the method's exception) and gives the box back for the thread's next method.</summary>
    public TResult GetResult(short token)
    {
        if (token != _core.Version)
        {
            // A second await of a finished task: fail it, and leave the box alone (it may be another method's by now;
            // recycling it again would hand it to two methods at once).
            return _core.GetResult(token);
        }

        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            Recycle();
        }
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    private protected abstract void Recycle();
}

/// <summary>
/// The box of one state-machine type, with each thread's free list of them, and a shared list behind those for a
/// thread that finishes more methods than it starts (a request can start on one loop thread and end on the one that
/// owns its backend connection).
/// </summary>
/// <typeparam name="TResult">The method's result.</typeparam>
/// <typeparam name="TStateMachine">The compiler's state machine of the async method.</typeparam>
internal sealed class ThreadPooledBox<TResult, TStateMachine> : ThreadPooledBox<TResult>
    where TStateMachine : IAsyncStateMachine
{
    /// <summary>Boxes kept per thread: a loop thread's requests in flight, with room (about 300 bytes each).</summary>
    public const int MaxPerThread = 256;

    /// <summary>Boxes kept in the shared list.</summary>
    public const int MaxShared = 256;

    private static readonly Lock SharedLock = new();
    private static readonly ThreadPooledBox<TResult, TStateMachine>?[] Shared = new ThreadPooledBox<TResult, TStateMachine>?[MaxShared];
    private static int s_sharedCount;

    private static readonly ContextCallback MoveNextInContext = static state => ((ThreadPooledBox<TResult, TStateMachine>)state!).StateMachine.MoveNext();

    [ThreadStatic]
    private static ThreadPooledBox<TResult, TStateMachine>? t_free;

    [ThreadStatic]
    private static int t_freeCount;

    /// <summary>The method's state machine, copied in at its first wait.</summary>
    internal TStateMachine StateMachine = default!;

    private ThreadPooledBox<TResult, TStateMachine>? _nextFree;

    private ThreadPooledBox()
    {
        MoveNextAction = MoveNext;
    }

    /// <summary>Gets or sets the execution context to resume in (null: the current one).</summary>
    internal ExecutionContext? Context { get; set; }

    /// <summary>Gets the resumption, made once per box.</summary>
    internal Action MoveNextAction { get; }

    internal static ThreadPooledBox<TResult, TStateMachine> Rent()
    {
        ThreadPooledBox<TResult, TStateMachine>? box = t_free;
        if (box is null)
        {
            return RentShared();
        }

        t_free = box._nextFree;
        box._nextFree = null;
        t_freeCount--;
        return box;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ThreadPooledBox<TResult, TStateMachine> RentShared()
    {
        lock (SharedLock)
        {
            if (s_sharedCount > 0)
            {
                ThreadPooledBox<TResult, TStateMachine> box = Shared[--s_sharedCount]!;
                Shared[s_sharedCount] = null;
                return box;
            }
        }

        return new ThreadPooledBox<TResult, TStateMachine>();
    }

    private protected override void Recycle()
    {
        StateMachine = default!;
        Context = null;
        _core.Reset();
        if (t_freeCount < MaxPerThread)
        {
            _nextFree = t_free;
            t_free = this;
            t_freeCount++;
        }
        else
        {
            ReturnShared();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReturnShared()
    {
        lock (SharedLock)
        {
            if (s_sharedCount < MaxShared)
            {
                Shared[s_sharedCount++] = this;
            }
        }
    }

    private void MoveNext()
    {
        if (Context is { } context)
        {
            ExecutionContext.Run(context, MoveNextInContext, this);
        }
        else
        {
            StateMachine.MoveNext();
        }
    }
}
