using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Loadwise.AotProxy.Threading;

/// <summary>
/// An async method builder for <see cref="ValueTask"/> methods that keeps each thread's finished state-machine boxes in
/// a free list of up to <see cref="ThreadPooledBox{TStateMachine}.MaxPerThread"/>, with a shared list behind them for
/// boxes that finish on another thread than they started on. The runtime's
/// <see cref="PoolingAsyncValueTaskMethodBuilder"/> keeps one box per thread and one per core. An event-loop thread
/// has dozens of requests waiting at once, and one epoll batch completes many of them before the next starts, so most
/// of its rents missed: about 250 bytes allocated per proxied request, and a gen0 collection (a pause of every
/// thread) every second or two under load.
/// </summary>
/// <remarks>
/// The same rules as the runtime's pooling builder: the returned <see cref="ValueTask"/> is awaited once, and its
/// result is not read after that. The execution context is captured at each await and restored around each resumption.
/// </remarks>
/// <example><code>
/// [AsyncMethodBuilder(typeof(ThreadPooledValueTaskMethodBuilder))]
/// public async ValueTask ForwardAsync(Exchange exchange) { await exchange.SendAsync(); }
/// </code></example>
[StructLayout(LayoutKind.Auto)]
internal struct ThreadPooledValueTaskMethodBuilder
{
    /// <summary>The box once the method first waits; null while it runs synchronously.</summary>
    private ThreadPooledBox? _box;

    /// <summary>The exception of a method that failed before it first waited.</summary>
    private Exception? _synchronousException;

    /// <summary>Creates a builder (called by the compiler).</summary>
    public static ThreadPooledValueTaskMethodBuilder Create() => default;

    /// <summary>Gets the task for the method: completed when it finished without waiting, else backed by its box.</summary>
    public readonly ValueTask Task => _box is { } box
        ? new ValueTask(box, box.Version)
        : _synchronousException is { } exception ? ValueTask.FromException(exception) : default;

    /// <summary>Runs the method up to its first wait (called by the compiler).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        // As the runtime's builders do: whatever the method sets in the execution context up to its first wait does
        // not leak into the caller.
        ExecutionContext? before = ExecutionContext.Capture();
        try
        {
            stateMachine.MoveNext();
        }
        finally
        {
            if (!ReferenceEquals(before, ExecutionContext.Capture()) && before is not null)
            {
                ExecutionContext.Restore(before);
            }
        }
    }

    /// <summary>Not used: the state machine is boxed by the builder itself.</summary>
    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
    }

    /// <summary>Completes the method (called by the compiler).</summary>
    public readonly void SetResult() => _box?.SetResult();

    /// <summary>Fails the method (called by the compiler).</summary>
    public void SetException(Exception exception)
    {
        if (_box is { } box)
        {
            box.SetException(exception);
        }
        else
        {
            _synchronousException = exception;
        }
    }

    /// <summary>Waits on an awaiter that flows the execution context itself (called by the compiler).</summary>
    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine
    {
        ThreadPooledBox<TStateMachine> box = BoxFor(ref stateMachine);
        box.Context = null;
        awaiter.OnCompleted(box.MoveNextAction);
    }

    /// <summary>Waits on an awaiter that does not flow the execution context; the box does (called by the compiler).</summary>
    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine
    {
        ThreadPooledBox<TStateMachine> box = BoxFor(ref stateMachine);
        box.Context = ExecutionContext.Capture();
        awaiter.UnsafeOnCompleted(box.MoveNextAction);
    }

    private ThreadPooledBox<TStateMachine> BoxFor<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        if (_box is ThreadPooledBox<TStateMachine> boxed)
        {
            return boxed;
        }

        ThreadPooledBox<TStateMachine> box = ThreadPooledBox<TStateMachine>.Rent();
        // Before the copy: the boxed state machine's builder must point at its box.
        _box = box;
        box.StateMachine = stateMachine;
        return box;
    }
}

/// <summary>What <see cref="ThreadPooledValueTaskMethodBuilder"/>'s tasks wait on, whatever the state machine.</summary>
internal abstract class ThreadPooledBox : IValueTaskSource
{
    private protected ManualResetValueTaskSourceCore<bool> _core;

    /// <summary>Gets the token of the box's current use.</summary>
    internal short Version => _core.Version;

    internal void SetResult() => _core.SetResult(true);

    internal void SetException(Exception exception) => _core.SetException(exception);

    /// <inheritdoc/>
    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    /// <inheritdoc/>
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>Gets the outcome (throws the method's exception) and gives the box back for the thread's next method.</summary>
    public void GetResult(short token)
    {
        if (token != _core.Version)
        {
            // A second await of a finished task: fail it, and leave the box alone (it may be another method's by now;
            // recycling it again would hand it to two methods at once).
            _core.GetResult(token);
            return;
        }

        try
        {
            _core.GetResult(token);
        }
        finally
        {
            Recycle();
        }
    }

    private protected abstract void Recycle();
}

/// <summary>
/// The box of one state-machine type, with each thread's free list of them, and a shared list behind those for a
/// thread that finishes more methods than it starts (a request can start on one loop thread and end on the one that
/// owns its backend connection).
/// </summary>
/// <typeparam name="TStateMachine">The compiler's state machine of the async method.</typeparam>
internal sealed class ThreadPooledBox<TStateMachine> : ThreadPooledBox
    where TStateMachine : IAsyncStateMachine
{
    /// <summary>Boxes kept per thread: a loop thread's requests in flight, with room (about 300 bytes each).</summary>
    public const int MaxPerThread = 256;

    /// <summary>Boxes kept in the shared list.</summary>
    public const int MaxShared = 256;

    private static readonly Lock SharedLock = new();
    private static readonly ThreadPooledBox<TStateMachine>?[] Shared = new ThreadPooledBox<TStateMachine>?[MaxShared];
    private static int s_sharedCount;

    private static readonly ContextCallback MoveNextInContext = static state => ((ThreadPooledBox<TStateMachine>)state!).StateMachine.MoveNext();

    [ThreadStatic]
    private static ThreadPooledBox<TStateMachine>? t_free;

    [ThreadStatic]
    private static int t_freeCount;

    /// <summary>The method's state machine, copied in at its first wait.</summary>
    internal TStateMachine StateMachine = default!;

    private ThreadPooledBox<TStateMachine>? _nextFree;

    private ThreadPooledBox()
    {
        MoveNextAction = MoveNext;
    }

    /// <summary>Gets or sets the execution context to resume in (null: the current one).</summary>
    internal ExecutionContext? Context { get; set; }

    /// <summary>Gets the resumption, made once per box.</summary>
    internal Action MoveNextAction { get; }

    internal static ThreadPooledBox<TStateMachine> Rent()
    {
        ThreadPooledBox<TStateMachine>? box = t_free;
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
    private static ThreadPooledBox<TStateMachine> RentShared()
    {
        lock (SharedLock)
        {
            if (s_sharedCount > 0)
            {
                ThreadPooledBox<TStateMachine> box = Shared[--s_sharedCount]!;
                Shared[s_sharedCount] = null;
                return box;
            }
        }

        return new ThreadPooledBox<TStateMachine>();
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
