namespace Loadwise.Tests.State;

/// <summary>A store that fails every call, synchronously or asynchronously, like a network store during an outage.</summary>
public sealed class ThrowingStateStore(bool synchronously) : IStateStore
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public ValueTask<NodeState?> GetAsync(string key, CancellationToken cancellationToken = default) => Fail<NodeState?>();

    public ValueTask PutAsync(string key, NodeState state, CancellationToken cancellationToken = default) => new(Fail<bool>().AsTask());

    public ValueTask<bool> RemoveAsync(string key, CancellationToken cancellationToken = default) => Fail<bool>();

    public ValueTask<IReadOnlyList<StoredNodeState>> ListAsync(string keyPrefix = "", CancellationToken cancellationToken = default) => Fail<IReadOnlyList<StoredNodeState>>();

    private ValueTask<T> Fail<T>()
    {
        Interlocked.Increment(ref _calls);
        var error = new InvalidOperationException("store is down");
        return synchronously ? throw error : ValueTask.FromException<T>(error);
    }
}

/// <summary>An in-memory store whose writes wait until the test opens the gate, like a slow network store.</summary>
public sealed class GatedStateStore : IStateStore
{
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public InMemoryStateStore Inner { get; } = new();

    public int PutsStarted => Volatile.Read(ref _putsStarted);

    private int _putsStarted;

    public void Open() => _open.TrySetResult();

    public ValueTask<NodeState?> GetAsync(string key, CancellationToken cancellationToken = default) => Inner.GetAsync(key, cancellationToken);

    public async ValueTask PutAsync(string key, NodeState state, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _putsStarted);
        await _open.Task.ConfigureAwait(false);
        await Inner.PutAsync(key, state, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<bool> RemoveAsync(string key, CancellationToken cancellationToken = default) => Inner.RemoveAsync(key, cancellationToken);

    public ValueTask<IReadOnlyList<StoredNodeState>> ListAsync(string keyPrefix = "", CancellationToken cancellationToken = default) => Inner.ListAsync(keyPrefix, cancellationToken);
}

public class StateStoreTests
{
    [Fact]
    public async Task Disposing_the_tracker_waits_for_queued_writes_and_stops_the_write_behind()
    {
        var store = new GatedStateStore();
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { StateStore = store, Policy = new ConsecutiveFailurePolicy(1) });
        tracker.ReportFailure("a");
        tracker.ReportRateLimited("b", TimeSpan.FromMinutes(1));

        ValueTask disposing = tracker.DisposeAsync();
        Assert.False(disposing.IsCompleted); // the writes are still waiting on the store
        store.Open();
        await disposing;
        CancellationToken token = TestContext.Current.CancellationToken;
        Assert.Equal(HealthStatus.Unhealthy, (await store.Inner.GetAsync(tracker.GetStoreKey("a"), token))!.Status);
        Assert.NotNull((await store.Inner.GetAsync(tracker.GetStoreKey("b"), token))!.RetryAt);

        // After disposal the tracker still tracks, but writes nothing more.
        int puts = store.PutsStarted;
        tracker.ReportFailure("c");
        tracker.ReportRateLimited("a", TimeSpan.FromMinutes(2));
        await tracker.FlushAsync();
        Assert.Equal(HealthStatus.Unhealthy, tracker.GetStatus("c"));
        Assert.Equal(puts, store.PutsStarted);
        Assert.Null(await store.Inner.GetAsync(tracker.GetStoreKey("c"), token));

        await tracker.DisposeAsync(); // a second disposal is harmless
        await new HealthTracker<string>().DisposeAsync(); // so is one without a store
    }


    [Fact]
    public async Task In_memory_store_round_trips()
    {
        var store = new InMemoryStateStore();
        var state = new NodeState
        {
            Status = HealthStatus.Recovering,
            ConsecutiveFailures = 0,
            ConsecutiveSuccesses = 1,
            StatusSince = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
            RetryAt = new DateTimeOffset(2026, 1, 1, 0, 1, 0, TimeSpan.Zero),
            UpdatedAt = new DateTimeOffset(2026, 1, 1, 0, 0, 5, TimeSpan.Zero),
        };
        CancellationToken token = TestContext.Current.CancellationToken;

        Assert.Null(await store.GetAsync("a:1", token));
        await store.PutAsync("a:1", state, token);
        await store.PutAsync("a:2", state with { Status = HealthStatus.Unhealthy }, token);
        await store.PutAsync("b:1", state, token);
        Assert.Equal(state, await store.GetAsync("a:1", token));
        Assert.Equal(["a:1", "a:2"], (await store.ListAsync("a:", token)).Select(e => e.Key).Order());
        Assert.Equal(3, (await store.ListAsync(cancellationToken: token)).Count);
        Assert.True(await store.RemoveAsync("a:1", token));
        Assert.False(await store.RemoveAsync("a:1", token));
        Assert.Null(await store.GetAsync("a:1", token));
        Assert.Equal(2, store.Count);
    }

    [Fact]
    public async Task Tracker_state_saves_and_loads_into_a_new_tracker()
    {
        var time = new ManualTimeProvider();
        var store = new InMemoryStateStore();
        var options = new HealthTrackerOptions { TimeProvider = time, StateStore = store, KeyPrefix = "pool:" };
        var first = new HealthTracker<string>(options);
        for (int i = 0; i < 3; i++)
        {
            first.ReportFailure("down");
        }

        first.ReportFailure("degraded");
        first.ReportFailure("degraded");
        first.ReportRateLimited("busy", TimeSpan.FromSeconds(30));
        first.ReportSuccess("fine");
        CancellationToken token = TestContext.Current.CancellationToken;
        Assert.Equal(4, await first.SaveAsync(token));
        Assert.Equal(HealthStatus.Unhealthy, (await store.GetAsync("pool:down", token))!.Status);

        var second = new HealthTracker<string>(options);
        var changes = new List<(string, HealthStatus)>();
        second.HealthChanged += (_, e) => changes.Add((e.NodeId, e.To));
        Assert.Equal(4, await second.LoadAsync(["down", "degraded", "busy", "fine", "unknown"], token));
        Assert.Equal(HealthStatus.Unhealthy, second.GetStatus("down"));
        Assert.Equal(first.GetState("down"), second.GetState("down"));
        Assert.Equal(first.GetState("degraded"), second.GetState("degraded"));
        Assert.False(second.IsAvailable("busy"));
        Assert.Equal(HealthStatus.Healthy, second.GetStatus("unknown"));
        Assert.Equal([("down", HealthStatus.Unhealthy), ("degraded", HealthStatus.Degraded)], changes);

        // The loaded Unhealthy node is probed one interval after it went down; the loaded rate limit ends on time.
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(second.ShouldProbe("down"));
        time.Advance(TimeSpan.FromSeconds(20));
        Assert.True(second.IsAvailable("busy"));
    }

    [Fact]
    public async Task Status_changes_are_written_behind()
    {
        var store = new InMemoryStateStore();
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { StateStore = store, Policy = new ConsecutiveFailurePolicy(1) });
        tracker.ReportFailure("a");
        tracker.ReportSuccess("b"); // no change: not written
        await tracker.FlushAsync();
        CancellationToken token = TestContext.Current.CancellationToken;
        Assert.Equal(HealthStatus.Unhealthy, (await store.GetAsync(tracker.GetStoreKey("a"), token))!.Status);
        Assert.Null(await store.GetAsync(tracker.GetStoreKey("b"), token));

        tracker.ReportSuccess("a");
        await tracker.FlushAsync();
        Assert.Equal(HealthStatus.Recovering, (await store.GetAsync(tracker.GetStoreKey("a"), token))!.Status);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_store_that_throws_never_breaks_select(bool synchronously)
    {
        var store = new ThrowingStateStore(synchronously);
        var metrics = new RecordingMetrics();
        var tracker = new HealthTracker<string>(new HealthTrackerOptions { StateStore = store, Metrics = metrics, Policy = new ConsecutiveFailurePolicy(1) });
        Backend[] nodes = HealthNodes.Make(16);
        var strategy = new FilteredStrategy<Backend, HealthFilter<Backend, string, NodeAccessor<Backend, string>>, RoundRobin<Backend>>(new(tracker), new RoundRobin<Backend>());

        for (int round = 0; round < 50; round++)
        {
            string id = nodes[round % 8].Id;
            if (round % 2 == 0)
            {
                tracker.ReportFailure(id);
            }
            else
            {
                tracker.ReportSuccess(id);
            }

            tracker.ReportRateLimited(nodes[15].Id, TimeSpan.FromMinutes(1));
            for (int pick = 0; pick < 16; pick++)
            {
                Assert.True(strategy.TrySelect(nodes, SelectionContext.Empty, out int index));
                Assert.NotEqual(HealthStatus.Unhealthy, tracker.GetStatus(nodes[index].Id));
                Assert.NotEqual(15, index);
            }
        }

        await tracker.FlushAsync();
        Assert.True(store.Calls > 0);
        Assert.Equal(store.Calls, metrics.StoreErrors.Count);
        Assert.All(metrics.StoreErrors, e => Assert.Equal("put", e.Operation));
        Assert.All(metrics.StoreErrors, e => Assert.StartsWith("loadwise:health:n", e.Key, StringComparison.Ordinal));

        // Explicit calls do surface the error to their caller.
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await tracker.SaveAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Save_without_a_store_explains_the_fix()
    {
        var tracker = new HealthTracker<string>();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await tracker.SaveAsync(TestContext.Current.CancellationToken));
        Assert.Contains("StateStore", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Applying_an_invalid_state_is_rejected()
    {
        var tracker = new HealthTracker<string>();
        Assert.Throws<ArgumentOutOfRangeException>(() => tracker.Apply("a", new NodeState { Status = (HealthStatus)42 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => tracker.Apply("a", new NodeState { ConsecutiveFailures = -1 }));
    }
}
