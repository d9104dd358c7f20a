using StackExchange.Redis;

namespace Loadwise.Redis.Tests;

public sealed class RedisStateStoreTests(RedisServer server) : IClassFixture<RedisServer>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private RedisStateConnection Connect(string prefix, string instance = "test") =>
        RedisStateConnection.Connect(new RedisStateOptions { Configuration = server.Configuration, KeyPrefix = prefix, InstanceId = instance });

    [Fact]
    public async Task A_put_state_reads_back_whole()
    {
        await using RedisStateConnection connection = Connect("rt:");
        var store = new RedisStateStore(connection);
        var state = new NodeState
        {
            Status = HealthStatus.Unhealthy,
            ConsecutiveFailures = 4,
            ConsecutiveSuccesses = 0,
            StatusSince = T0,
            RetryAt = T0.AddSeconds(30),
            UpdatedAt = T0.AddSeconds(1),
            Version = 7,
        };

        await store.PutAsync("pool:10.0.0.1:80", state, Ct);
        NodeState? read = await store.GetAsync("pool:10.0.0.1:80", Ct);

        Assert.Equal(state with { Writer = "test" }, read);
        Assert.Null(await store.GetAsync("pool:other", Ct));
    }

    [Fact]
    public async Task A_late_older_write_does_not_overwrite_a_newer_one()
    {
        await using RedisStateConnection a = Connect("late:", "a");
        await using RedisStateConnection b = Connect("late:", "b");
        var storeA = new RedisStateStore(a);
        var storeB = new RedisStateStore(b);
        var newer = new NodeState { Status = HealthStatus.Healthy, Version = 5, UpdatedAt = T0 };
        // Captured before the newer one but arriving after it, from a writer whose clock runs ahead.
        var older = new NodeState { Status = HealthStatus.Unhealthy, Version = 4, UpdatedAt = T0.AddMinutes(5) };
        var concurrentEarlier = new NodeState { Status = HealthStatus.Unhealthy, Version = 5, UpdatedAt = T0.AddMilliseconds(-1) };

        await storeA.PutAsync("n", newer, Ct);
        await storeB.PutAsync("n", older, Ct);
        await storeB.PutAsync("n", concurrentEarlier, Ct);

        NodeState? read = await storeA.GetAsync("n", Ct);
        Assert.Equal(HealthStatus.Healthy, read!.Status);
        Assert.Equal(5, read.Version);
        Assert.Equal("a", read.Writer);

        await storeB.PutAsync("n", new NodeState { Status = HealthStatus.Degraded, Version = 6, UpdatedAt = T0.AddMinutes(-10) }, Ct);
        Assert.Equal(HealthStatus.Degraded, (await storeA.GetAsync("n", Ct))!.Status); // a higher version wins whatever its clock
    }

    [Fact]
    public async Task List_finds_entries_by_prefix_and_remove_deletes()
    {
        await using RedisStateConnection connection = Connect("list:");
        var store = new RedisStateStore(connection);
        await store.PutAsync("pool-a:x", new NodeState { Status = HealthStatus.Degraded }, Ct);
        await store.PutAsync("pool-a:y", new NodeState { Status = HealthStatus.Healthy }, Ct);
        await store.PutAsync("pool-b:{z}", new NodeState { Status = HealthStatus.Unhealthy }, Ct);

        IReadOnlyList<StoredNodeState> listed = await store.ListAsync("pool-a:", Ct);
        IReadOnlyList<StoredNodeState> braces = await store.ListAsync("pool-b:", Ct);

        Assert.Equal(["pool-a:x", "pool-a:y"], listed.Select(entry => entry.Key).Order(StringComparer.Ordinal));
        Assert.Equal("pool-b:{z}", Assert.Single(braces).Key);
        Assert.True(await store.RemoveAsync("pool-a:x", Ct));
        Assert.Null(await store.GetAsync("pool-a:x", Ct));
    }

    [Fact]
    public void Keys_of_one_node_share_a_hash_slot()
    {
        var keys = new RedisStateKeys("lw:");
        int slot(RedisKey key) => ClusterSlot(key.ToString());

        Assert.Equal(slot(keys.Quota("openai", "requests")), slot(keys.Quota("openai", "tokens")));
        Assert.NotEqual(slot(keys.Quota("openai", "requests")), slot(keys.Quota("anthropic", "requests")));
        Assert.Equal("odd{key}", keys.StateKeyOf(keys.State("odd{key}").ToString()));
    }

    [Fact]
    public void Bad_options_name_the_setting()
    {
        var error = Assert.Throws<ArgumentException>(() => new RedisStateOptions { KeyPrefix = "a{b" }.Validate());
        Assert.Contains("KeyPrefix", error.Message, StringComparison.Ordinal);
        Assert.Contains("EjectQuorum", Assert.Throws<ArgumentOutOfRangeException>(() => new SharedHealthOptions { EjectQuorum = 0 }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("LocalShare", Assert.Throws<ArgumentOutOfRangeException>(() => new SharedQuotaOptions { LocalShare = 0 }.Validate()).Message, StringComparison.Ordinal);
    }

    // Redis Cluster's slot: CRC16 (XMODEM) of the hash tag when there is one, modulo 16384.
    private static int ClusterSlot(string key)
    {
        int open = key.IndexOf('{', StringComparison.Ordinal);
        if (open >= 0)
        {
            int close = key.IndexOf('}', open + 1);
            if (close > open + 1)
            {
                key = key[(open + 1)..close];
            }
        }

        ushort crc = 0;
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes(key))
        {
            crc ^= (ushort)(b << 8);
            for (int i = 0; i < 8; i++)
            {
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            }
        }

        return crc % 16384;
    }
}
