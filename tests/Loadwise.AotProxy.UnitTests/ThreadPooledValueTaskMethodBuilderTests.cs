using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.UnitTests;

/// <summary>
/// The builder <c>ForwardAsync</c> runs on: results and exceptions, synchronous or not; boxes reused with nothing
/// allocated once a thread has enough of them; the execution context flowing into a resumption and not out of a method.
/// </summary>
public sealed class ThreadPooledValueTaskMethodBuilderTests
{
    private static readonly AsyncLocal<string?> Ambient = new();

    [Fact]
    public async Task A_method_that_never_waits_completes_at_once_and_its_exception_reaches_the_awaiter()
    {
        ValueTask completed = Run(gate: null, fail: false);
        Assert.True(completed.IsCompletedSuccessfully);
        await completed;

        ValueTask failed = Run(gate: null, fail: true);
        Assert.True(failed.IsFaulted);
        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await failed);
        Assert.Equal("failed as asked", error.Message);
    }

    [Fact]
    public async Task A_method_that_waits_completes_when_its_wait_does_and_an_exception_after_the_wait_reaches_the_awaiter()
    {
        var gate = new Gate();
        ValueTask pending = Run(gate, fail: false);
        Assert.False(pending.IsCompleted);
        gate.Open();
        await pending;

        var failingGate = new Gate();
        ValueTask failing = Run(failingGate, fail: true);
        failingGate.Open();
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await failing);
    }

    [Fact]
    public void Boxes_are_reused_so_a_hundred_waiting_methods_allocate_nothing_once_the_thread_has_enough()
    {
        var gates = new Gate[100];
        for (int i = 0; i < gates.Length; i++)
        {
            gates[i] = new Gate();
        }

        var tasks = new ValueTask[gates.Length];
        RunAll(gates, tasks); // the first round fills the thread's free list
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int round = 0; round < 10; round++)
        {
            RunAll(gates, tasks);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Boxes_finished_on_a_thread_whose_list_is_full_are_shared_with_a_thread_that_has_none()
    {
        // 300 methods start on one thread and finish on another: that one keeps 256 and shares the other 44.
        var gates = new Gate[300];
        var tasks = new ValueTask[gates.Length];
        for (int i = 0; i < gates.Length; i++)
        {
            gates[i] = new Gate();
        }

        OnNewThread(() =>
        {
            for (int i = 0; i < gates.Length; i++)
            {
                tasks[i] = Run(gates[i], fail: false);
            }
        });
        OnNewThread(() =>
        {
            for (int i = 0; i < gates.Length; i++)
            {
                gates[i].Open();
                tasks[i].GetAwaiter().GetResult();
            }
        });

        // A third thread, with no boxes of its own, starts 44 methods on the shared ones.
        var waiting = new Gate[44];
        var started = new ValueTask[waiting.Length];
        for (int i = 0; i < waiting.Length; i++)
        {
            waiting[i] = new Gate();
        }

        long allocated = -1;
        var warm = new Gate();
        OnNewThread(() =>
        {
            // One method through first: a thread's first touch of its thread-statics allocates their storage. Its box
            // (a shared one) comes back to this thread's list, so the 44 below take that one and 43 shared ones.
            ValueTask first = Run(warm, fail: false);
            warm.Open();
            first.GetAwaiter().GetResult();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < waiting.Length; i++)
            {
                started[i] = Run(waiting[i], fail: false);
            }

            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        });
        Assert.Equal(0, allocated);
        Assert.All(started, task => Assert.False(task.IsCompleted));

        static void OnNewThread(Action action)
        {
            var thread = new Thread(() => action());
            thread.Start();
            thread.Join();
        }
    }

    [Fact]
    public async Task A_resumption_on_another_thread_sees_the_callers_context_and_the_methods_own_settings_do_not_leak_out()
    {
        Ambient.Value = "caller";
        var gate = new Gate();
        var seen = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        ValueTask pending = ReadAmbientAfterWait(gate, seen);
        Assert.Equal("caller", Ambient.Value); // the method set "method" before its wait: not visible here

        await Task.Run(gate.Open, TestContext.Current.CancellationToken);
        await pending;
        Assert.Equal("method", await seen.Task);
    }

    [Fact]
    public async Task Awaiting_a_finished_task_a_second_time_fails_and_does_not_hand_its_box_to_two_methods()
    {
        var gate = new Gate();
        ValueTask pending = Run(gate, fail: false);
        gate.Open();
        await pending;
        Assert.Throws<InvalidOperationException>(() => pending.GetAwaiter().GetResult());

        // Had the failed await put the box back a second time, these two would share it: the first gate would resume
        // the second method's state machine, whose gate is still shut, and the first task would fault.
        var first = new Gate();
        var second = new Gate();
        ValueTask one = Run(first, fail: false);
        ValueTask two = Run(second, fail: false);
        first.Open();
        Assert.True(one.IsCompletedSuccessfully);
        Assert.False(two.IsCompleted);
        await one;
        second.Open();
        await two;
    }

    private static void RunAll(Gate[] gates, ValueTask[] tasks)
    {
        for (int i = 0; i < gates.Length; i++)
        {
            tasks[i] = Run(gates[i], fail: false);
        }

        foreach (Gate gate in gates)
        {
            gate.Open();
        }

        for (int i = 0; i < tasks.Length; i++)
        {
            tasks[i].GetAwaiter().GetResult();
        }
    }

    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskMethodBuilder))]
    private static async ValueTask Run(Gate? gate, bool fail)
    {
        if (gate is not null)
        {
            await gate.WaitAsync();
        }

        if (fail)
        {
            throw new InvalidOperationException("failed as asked");
        }
    }

    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskMethodBuilder))]
    private static async ValueTask ReadAmbientAfterWait(Gate gate, TaskCompletionSource<string?> seen)
    {
        Ambient.Value = "method";
        await gate.WaitAsync();
        seen.SetResult(Ambient.Value);
    }

    /// <summary>A reusable wait that completes its waiter inline when opened, as the event loop does.</summary>
    private sealed class Gate : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core;

        public ValueTask WaitAsync() => new(this, _core.Version);

        public void Open() => _core.SetResult(true);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        public void GetResult(short token)
        {
            _core.GetResult(token);
            _core.Reset();
        }
    }
}
