using Grpc.Core;

namespace Loadwise.Grpc.Tests;

/// <summary>Concurrent load: a server stopped mid-load, and a slow server among fast ones.</summary>
[Collection(ServerCollection.Name)]
public sealed class LoadTests
{
    [Theory]
    [InlineData(LoadwisePolicies.PowerOfTwoChoices)]
    [InlineData(LoadwisePolicies.RoundRobin)]
    public async Task Calls_continue_on_the_others_when_a_server_stops_mid_load(string policy)
    {
        await using var servers = await ServerSet.StartAsync(3);
        foreach (TestServer server in servers.Servers)
        {
            server.Behaviour.DelayMs = 2; // calls overlap the stop
        }

        using TestChannel channel = await TestChannel.CreateAsync(servers.Servers, new LoadwiseBalancingConfig(policy), method: TestChannel.RetryUnavailable);
        const int Workers = 8;
        int completed = 0;
        int failures = 0;
        var beforeStop = new Tally();
        var afterStop = new Tally();
        var stopped = new TaskCompletionSource();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Task stopper = Task.Run(async () =>
        {
            while (Volatile.Read(ref completed) < 150)
            {
                await Task.Delay(1, TestContext.Current.CancellationToken);
            }

            await servers["B"].StopAsync();
            stopped.SetResult();
        }, TestContext.Current.CancellationToken);
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            // Load runs until 200 calls were sent after the stop completed (B's drain included before that).
            while (afterStop.Total < 200 && !deadline.IsCancellationRequested)
            {
                bool sentAfterStop = stopped.Task.IsCompleted;
                try
                {
                    string server = await channel.JoinAsync();
                    (sentAfterStop ? afterStop : beforeStop).Add(server);
                }
                catch (RpcException)
                {
                    Interlocked.Increment(ref failures);
                }

                Interlocked.Increment(ref completed);
            }
        }, TestContext.Current.CancellationToken)));
        await stopper;

        Assert.Equal(0, failures);
        Assert.True(beforeStop["B"] > 0, "B served before it stopped: " + beforeStop);
        Assert.True(afterStop.Total >= 200, "calls after the stop: " + afterStop);
        Assert.Equal(0, afterStop["B"]);
        Assert.True(afterStop["A"] > 0 && afterStop["C"] > 0, afterStop.ToString());
    }

    [Fact]
    public async Task Least_request_steers_away_from_a_slow_server()
    {
        Tally tally = await RunWithSlowBAsync(LoadwisePolicies.LeastRequest);

        // Round robin would give B a third; B holds its calls 40 times longer, so it is rarely the least loaded.
        Assert.True(tally["B"] < tally.Total / 10, tally.ToString());
    }

    [Fact]
    public async Task Power_of_two_choices_steers_away_from_a_slow_server()
    {
        Tally tally = await RunWithSlowBAsync(LoadwisePolicies.PowerOfTwoChoices);

        Assert.True(tally["B"] < tally.Total / 6, tally.ToString());
    }

    private static async Task<Tally> RunWithSlowBAsync(string policy)
    {
        await using var servers = await ServerSet.StartAsync(3);
        using TestChannel channel = await TestChannel.CreateAsync(servers.Servers, new LoadwiseBalancingConfig(policy));
        servers["A"].Behaviour.DelayMs = 5;
        servers["B"].Behaviour.DelayMs = 200;
        servers["C"].Behaviour.DelayMs = 5;
        var tally = new Tally();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                tally.Add(await channel.JoinAsync());
            }
        }, TestContext.Current.CancellationToken)));
        Assert.True(tally.Total > 100, tally.ToString());
        return tally;
    }
}
