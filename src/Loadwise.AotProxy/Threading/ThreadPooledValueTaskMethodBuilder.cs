using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Loadwise.AotProxy.Threading;

/// <summary>
/// An async method builder for <see cref="ValueTask"/> methods that keeps each thread's finished state-machine boxes in
/// a free list of up to <see cref="ThreadPooledBox{TResult, TStateMachine}.MaxPerThread"/>, with a shared list behind
/// them for boxes that finish on another thread than they started on. The runtime's
/// <see cref="PoolingAsyncValueTaskMethodBuilder"/> keeps one box per thread and one per core; an event-loop thread
/// has dozens of requests waiting at once, and one epoll batch completes many of them before the next starts, so most
/// of its rents miss, and each miss allocates a box.
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
    private ThreadPooledBox<VoidResult>? _box;
    private Exception? _synchronousException;

    /// <summary>Creates a builder (called by the compiler).</summary>
    public static ThreadPooledValueTaskMethodBuilder Create() => default;

    /// <summary>Gets the task for the method: completed when it finished without waiting, else backed by its box.</summary>
    public readonly ValueTask Task => _box is { } box
        ? new ValueTask(box, box.Version)
        : _synchronousException is { } exception ? ValueTask.FromException(exception) : default;

    /// <summary>Runs the method up to its first wait (called by the compiler).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine => ThreadPooledBuilderCore.Start(ref stateMachine);

    /// <summary>Not used: the state machine is boxed by the builder itself.</summary>
    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
    }

    /// <summary>Completes the method (called by the compiler).</summary>
    public readonly void SetResult() => _box?.SetResult(default);

    /// <summary>Fails the method (called by the compiler).</summary>
    public void SetException(Exception exception) => ThreadPooledBuilderCore.SetException(_box, ref _synchronousException, exception);

    /// <summary>Waits on an awaiter that flows the execution context itself (called by the compiler).</summary>
    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine => ThreadPooledBuilderCore.AwaitOnCompleted(ref _box, ref awaiter, ref stateMachine);

    /// <summary>Waits on an awaiter that does not flow the execution context; the box does (called by the compiler).</summary>
    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine => ThreadPooledBuilderCore.AwaitUnsafeOnCompleted(ref _box, ref awaiter, ref stateMachine);
}

/// <summary>
/// <see cref="ThreadPooledValueTaskMethodBuilder"/> for <see cref="ValueTask{TResult}"/> methods: the same per-thread
/// boxes, carrying a result.
/// </summary>
/// <typeparam name="TResult">The method's result.</typeparam>
/// <example><code>
/// [AsyncMethodBuilder(typeof(ThreadPooledValueTaskMethodBuilder&lt;&gt;))]
/// public async ValueTask&lt;int&gt; ReadAsync() => await socket.ReceiveAsync(buffer);
/// </code></example>
[StructLayout(LayoutKind.Auto)]
internal struct ThreadPooledValueTaskMethodBuilder<TResult>
{
    private ThreadPooledBox<TResult>? _box;
    private Exception? _synchronousException;
    private TResult _result;

    /// <summary>Creates a builder (called by the compiler).</summary>
    public static ThreadPooledValueTaskMethodBuilder<TResult> Create() => default;

    /// <summary>Gets the task for the method: its result when it finished without waiting, else backed by its box.</summary>
    public readonly ValueTask<TResult> Task => _box is { } box
        ? new ValueTask<TResult>(box, box.Version)
        : _synchronousException is { } exception ? ValueTask.FromException<TResult>(exception) : new ValueTask<TResult>(_result);

    /// <summary>Runs the method up to its first wait (called by the compiler).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine => ThreadPooledBuilderCore.Start(ref stateMachine);

    /// <summary>Not used: the state machine is boxed by the builder itself.</summary>
    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
    }

    /// <summary>Completes the method with its result (called by the compiler).</summary>
    public void SetResult(TResult result)
    {
        if (_box is { } box)
        {
            box.SetResult(result);
        }
        else
        {
            _result = result;
        }
    }

    /// <summary>Fails the method (called by the compiler).</summary>
    public void SetException(Exception exception) => ThreadPooledBuilderCore.SetException(_box, ref _synchronousException, exception);

    /// <summary>Waits on an awaiter that flows the execution context itself (called by the compiler).</summary>
    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine => ThreadPooledBuilderCore.AwaitOnCompleted(ref _box, ref awaiter, ref stateMachine);

    /// <summary>Waits on an awaiter that does not flow the execution context; the box does (called by the compiler).</summary>
    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine => ThreadPooledBuilderCore.AwaitUnsafeOnCompleted(ref _box, ref awaiter, ref stateMachine);
}

/// <summary>The result of a method without one, for the box that backs a non-generic <see cref="ValueTask"/>.</summary>
internal readonly struct VoidResult;

/// <summary>What both builders do alike, written once.</summary>
internal static class ThreadPooledBuilderCore
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Start<TStateMachine>(ref TStateMachine stateMachine)
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

    public static void SetException<TResult>(ThreadPooledBox<TResult>? box, ref Exception? synchronousException, Exception exception)
    {
        if (box is not null)
        {
            box.SetException(exception);
        }
        else
        {
            synchronousException = exception;
        }
    }

    public static void AwaitOnCompleted<TResult, TAwaiter, TStateMachine>(ref ThreadPooledBox<TResult>? box, ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine
    {
        ThreadPooledBox<TResult, TStateMachine> boxed = BoxFor(ref box, ref stateMachine);
        boxed.Context = null;
        awaiter.OnCompleted(boxed.MoveNextAction);
    }

    public static void AwaitUnsafeOnCompleted<TResult, TAwaiter, TStateMachine>(ref ThreadPooledBox<TResult>? box, ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine
    {
        ThreadPooledBox<TResult, TStateMachine> boxed = BoxFor(ref box, ref stateMachine);
        boxed.Context = ExecutionContext.Capture();
        awaiter.UnsafeOnCompleted(boxed.MoveNextAction);
    }

    private static ThreadPooledBox<TResult, TStateMachine> BoxFor<TResult, TStateMachine>(ref ThreadPooledBox<TResult>? box, ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        if (box is ThreadPooledBox<TResult, TStateMachine> boxed)
        {
            return boxed;
        }

        ThreadPooledBox<TResult, TStateMachine> rented = ThreadPooledBox<TResult, TStateMachine>.Rent();
        // Before the copy: the boxed state machine's builder must point at its box.
        box = rented;
        rented.StateMachine = stateMachine;
        return rented;
    }
}
