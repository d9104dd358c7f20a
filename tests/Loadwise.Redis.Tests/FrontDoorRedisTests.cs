namespace Loadwise.Redis.Tests;

/// <summary>Two front-door balancers, as two instances of an app, share health through Redis with <c>.WithRedis</c>.</summary>
public sealed class FrontDoorRedisTests(RedisServer server) : IClassFixture<RedisServer>
{
    private static readonly string[] Nodes = ["n1", "n2", "n3"];

    private RedisStateConnection Connect(string instance) => RedisStateConnection.Connect(new RedisStateOptions
    {
        Configuration = server.Configuration,
        KeyPrefix = "frontdoor:",
        InstanceId = instance,
        OperationTimeout = TimeSpan.FromMilliseconds(250),
        RetryInterval = TimeSpan.FromMilliseconds(100),
    });

    [Fact]
    public async Task Failures_reported_through_one_balancer_s_leases_take_the_node_out_of_the_other_within_a_second()
    {
        await using RedisStateConnection connectionA = Connect("a"), connectionB = Connect("b");
        await using SharedHealth<string> sharedA = await SharedHealth.StartAsync(connectionA);
        await using SharedHealth<string> sharedB = await SharedHealth.StartAsync(connectionB);
        LoadBalancer<string> a = LoadBalancer.For<string>().UseRoundRobin().WithRedis(sharedA).Build(Nodes);
        LoadBalancer<string> b = LoadBalancer.For<string>().UseRoundRobin().WithRedis(sharedB).Build(Nodes);

        // Instance a's calls to n2 fail three times in a row: a ejects it and tells the fleet.
        int failed = 0;
        while (failed < 3)
        {
            NodeLease<string> lease = a.Acquire(SelectionContext.Empty);
            bool isN2 = lease.Node == "n2";
            lease.Dispose(isN2 ? Outcome.Failure : Outcome.Success);
            failed += isN2 ? 1 : 0;
        }

        Assert.Equal(HealthStatus.Unhealthy, sharedA.Tracker.GetStatus("n2"));
        await Eventually.HoldsAsync(() => sharedB.Tracker.GetStatus("n2") == HealthStatus.Unhealthy, TimeSpan.FromSeconds(1), "b takes on a's ejection");
        for (int i = 0; i < 30; i++)
        {
            NodeLease<string> lease = b.Acquire(SelectionContext.Empty);
            Assert.NotEqual("n2", lease.Node);
            lease.Dispose(Outcome.Success);
        }
    }

    [Fact]
    public async Task A_tracker_made_for_the_balancer_is_flushed_and_disposed_with_the_shared_health()
    {
        await using RedisStateConnection connection = Connect("owner");
        SharedHealth<string> shared = await SharedHealth.StartAsync(connection);
        LoadBalancer<string> balancer = LoadBalancer.For<string>().UseRoundRobin().WithRedis(shared).Build(Nodes);
        for (int i = 0; i < 3; i++)
        {
            NodeLease<string> lease = balancer.Acquire(SelectionContext.Empty);
            lease.Dispose(lease.Node == "n3" ? Outcome.Failure : Outcome.Success);
        }

        // Round robin gave n3 one of the three: two more failures eject it.
        shared.Tracker.ReportFailure("n3");
        shared.Tracker.ReportFailure("n3");
        Assert.Equal(HealthStatus.Unhealthy, shared.Tracker.GetStatus("n3"));

        await shared.DisposeAsync();

        // A late joiner reads what the disposed instance wrote before it went.
        await using RedisStateConnection late = Connect("late");
        await using SharedHealth<string> joined = await SharedHealth.StartAsync(late);
        joined.Tracker.GetHandle("n3");
        await joined.ReconcileAsync();
        Assert.Equal(HealthStatus.Unhealthy, joined.Tracker.GetStatus("n3"));
    }

    [Fact]
    public async Task A_missing_argument_names_it()
    {
        ArgumentNullException error = Assert.Throws<ArgumentNullException>(() => LoadBalancer.For<string>().WithRedis(null!));
        Assert.Equal("shared", error.ParamName);
        await Assert.ThrowsAsync<ArgumentNullException>(() => SharedHealth.StartAsync((RedisStateConnection)null!));
    }
}
