using Grpc.Core;
using Microsoft.Extensions.Time.Testing;

namespace Loadwise.Grpc.Tests;

/// <summary>What call statuses do to a server's place in the picks.</summary>
[Collection(ServerCollection.Name)]
public sealed class OutcomeTests
{
    [Fact]
    public async Task Unavailable_answers_make_a_server_unhealthy_until_a_probe_succeeds()
    {
        var time = new FakeTimeProvider();
        await using var servers = await ServerSet.StartAsync(3);
        using TestChannel channel = await TestChannel.CreateAsync(
            servers.Servers, new LoadwiseBalancingConfig(LoadwisePolicies.RoundRobin) { FailureThreshold = 3, ProbeIntervalSeconds = 5 }, time, TestChannel.RetryUnavailable);
        servers["B"].Behaviour.FailWith = StatusCode.Unavailable;
        int callsOnB = servers["B"].Behaviour.Calls;

        var tally = new Tally();
        for (int i = 0; i < 60; i++)
        {
            tally.Add(await channel.JoinAsync()); // retried on A or C when B refuses
        }

        Assert.Equal(60, tally["A"] + tally["C"]);
        Assert.Equal(3, servers["B"].Behaviour.Calls - callsOnB); // the threshold, then no more

        servers["B"].Behaviour.FailWith = StatusCode.OK;
        time.Advance(TimeSpan.FromSeconds(5));
        var after = new Tally();
        for (int i = 0; i < 30; i++)
        {
            after.Add(await channel.JoinAsync());
        }

        Assert.True(after["B"] >= 5, "B is picked again after its probe succeeded: " + after);
    }

    [Fact]
    public async Task Unavailable_answers_are_not_seen_without_the_handler()
    {
        var time = new FakeTimeProvider();
        await using var servers = await ServerSet.StartAsync(3);
        using TestChannel channel = await TestChannel.CreateAsync(
            servers.Servers, new LoadwiseBalancingConfig(LoadwisePolicies.RoundRobin) { FailureThreshold = 3 }, time, TestChannel.RetryUnavailable, statusHandler: false);
        servers["B"].Behaviour.FailWith = StatusCode.Unavailable;
        int callsOnB = servers["B"].Behaviour.Calls;
        for (int i = 0; i < 60; i++)
        {
            await channel.JoinAsync();
        }

        // The documented limit: the trailers-only status never reaches the tracker, so B keeps its turns.
        Assert.True(servers["B"].Behaviour.Calls - callsOnB >= 15);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Resource_exhausted_with_retry_info_rests_the_server_for_that_long(bool asRetryInfo)
    {
        var time = new FakeTimeProvider();
        await using var servers = await ServerSet.StartAsync(3);
        using TestChannel channel = await TestChannel.CreateAsync(servers.Servers, new LoadwiseBalancingConfig(LoadwisePolicies.RoundRobin), time);
        ServerBehaviour b = servers["B"].Behaviour;
        b.FailWith = StatusCode.ResourceExhausted;
        if (asRetryInfo)
        {
            b.StatusDetails = StatusDetailsTests.StatusWithRetryInfo(seconds: 30, nanos: 0);
        }
        else
        {
            b.PushbackMs = 30_000;
        }

        int callsOnB = b.Calls;
        int exhausted = 0;
        var tally = new Tally();
        for (int i = 0; i < 30; i++)
        {
            try
            {
                tally.Add(await channel.JoinAsync());
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                exhausted++;
            }
        }

        Assert.Equal(1, exhausted);
        Assert.Equal(1, b.Calls - callsOnB);

        b.FailWith = StatusCode.OK;
        time.Advance(TimeSpan.FromSeconds(29));
        for (int i = 0; i < 10; i++)
        {
            tally.Add(await channel.JoinAsync());
        }

        Assert.Equal(1, b.Calls - callsOnB);
        time.Advance(TimeSpan.FromSeconds(1));
        for (int i = 0; i < 10; i++)
        {
            tally.Add(await channel.JoinAsync());
        }

        Assert.True(b.Calls - callsOnB >= 3, "B takes calls again once its rest is over: " + tally);
    }

    [Fact]
    public async Task Resource_exhausted_without_retry_info_does_not_rest_the_server()
    {
        await using var servers = await ServerSet.StartAsync(3);
        using TestChannel channel = await TestChannel.CreateAsync(servers.Servers, new LoadwiseBalancingConfig(LoadwisePolicies.RoundRobin));
        servers["B"].Behaviour.FailWith = StatusCode.ResourceExhausted;
        int exhausted = 0;
        for (int i = 0; i < 30; i++)
        {
            try
            {
                await channel.JoinAsync();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                exhausted++;
            }
        }

        Assert.Equal(10, exhausted);
    }
}
