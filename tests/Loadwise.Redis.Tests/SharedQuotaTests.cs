using System.Collections.Concurrent;
using System.Diagnostics;
using StackExchange.Redis;

namespace Loadwise.Redis.Tests;

public sealed class SharedQuotaTests(RedisServer server) : IClassFixture<RedisServer>
{
    private const int Instances = 4;

    private RedisStateConnection Connect(string prefix) =>
        RedisStateConnection.Connect(new RedisStateOptions { Configuration = server.Configuration, KeyPrefix = prefix, OperationTimeout = TimeSpan.FromSeconds(2) });

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.02)]
    public async Task Four_instances_never_admit_more_than_the_request_limit_in_any_window(double leaseFraction)
    {
        // 1,000 requests per 1 s window, hammered by 4 instances for about 4.5 windows.
        QuotaLimit[] limits = [new QuotaLimit(QuotaLimit.RequestsName, 1_000, TimeSpan.FromSeconds(1), QuotaUnit.Requests)];
        ConcurrentDictionary<long, int> admitted = await HammerAsync($"rq{leaseFraction}:", limits, leaseFraction, _ => 0, (charge, _) => 1);

        Assert.All(admitted, window => Assert.True(window.Value <= 1_000, $"window {window.Key} admitted {window.Value}"));
        Assert.True(admitted.Count >= 4, $"only {admitted.Count} windows seen");
        // Proof that it admits, not only refuses: the busiest full window is close to the limit.
        Assert.True(admitted.Values.Max() >= 900, $"busiest window admitted {admitted.Values.Max()}");
    }

    [Fact]
    public async Task Four_instances_never_admit_more_than_the_token_limit_in_any_window()
    {
        QuotaLimit[] limits = [new QuotaLimit(QuotaLimit.TokensName, 100_000, TimeSpan.FromSeconds(1), QuotaUnit.Cost)];
        ConcurrentDictionary<long, int> tokens = await HammerAsync("tok:", limits, 0, random => random.Next(1, 400), (charge, cost) => (int)cost);

        Assert.All(tokens, window => Assert.True(window.Value <= 100_000, $"window {window.Key} admitted {window.Value} tokens"));
        Assert.True(tokens.Values.Max() >= 90_000, $"busiest window admitted {tokens.Values.Max()} tokens");
    }

    [Fact]
    public async Task A_correction_replaces_the_estimate_in_the_charged_window()
    {
        await using RedisStateConnection connection = Connect("corr:");
        var quotas = new SharedQuota<string>(connection, [QuotaLimit.TokensPerMinute(10_000)]);

        SharedQuotaCharge charge = await quotas.TryChargeAsync("p", 100);
        await quotas.CorrectAsync(charge, 350);

        Assert.Equal(QuotaChargeSource.Redis, charge.Source);
        RedisValue used = await connection.Multiplexer.GetDatabase().HashGetAsync("corr:q{p}tokens", "c");
        Assert.Equal(350, (double)used);
        Assert.False((await quotas.TryChargeAsync("p", 9_700)).Admitted);
        Assert.True((await quotas.TryChargeAsync("p", 9_650)).Admitted);
    }

    [Fact]
    public async Task Nodes_keep_their_own_limits()
    {
        await using RedisStateConnection connection = Connect("own:");
        var quotas = new SharedQuota<string>(connection, [QuotaLimit.RequestsPerMinute(100)]);
        quotas.Configure("small", [QuotaLimit.RequestsPerMinute(2)]);

        Assert.True((await quotas.TryChargeAsync("small", 0)).Admitted);
        Assert.True((await quotas.TryChargeAsync("small", 0)).Admitted);
        Assert.False((await quotas.TryChargeAsync("small", 0)).Admitted);
        Assert.True((await quotas.TryChargeAsync("big", 0)).Admitted);
    }

    private async Task<ConcurrentDictionary<long, int>> HammerAsync(
        string prefix, QuotaLimit[] limits, double leaseFraction, Func<Random, double> cost, Func<SharedQuotaCharge, double, int> counted)
    {
        var connections = new RedisStateConnection[Instances];
        var perWindow = new ConcurrentDictionary<long, int>();
        var elapsed = Stopwatch.StartNew();
        try
        {
            var loops = new List<Task>();
            for (int i = 0; i < Instances; i++)
            {
                connections[i] = Connect(prefix);
                var quotas = new SharedQuota<string>(connections[i], limits, new SharedQuotaOptions { LeaseFraction = leaseFraction });
                for (int worker = 0; worker < 4; worker++)
                {
                    var random = new Random((i * 16) + worker);
                    loops.Add(Task.Run(async () =>
                    {
                        while (elapsed.Elapsed < TimeSpan.FromSeconds(4.5))
                        {
                            double c = cost(random);
                            SharedQuotaCharge charge = await quotas.TryChargeAsync("provider", c);
                            Assert.NotEqual(QuotaChargeSource.Local, charge.Source);
                            if (charge.Admitted)
                            {
                                perWindow.AddOrUpdate(charge.Windows![0], counted(charge, c), (_, n) => n + counted(charge, c));
                            }
                        }
                    }));
                }
            }

            await Task.WhenAll(loops);
        }
        finally
        {
            foreach (RedisStateConnection? connection in connections)
            {
                if (connection is not null)
                {
                    await connection.DisposeAsync();
                }
            }
        }

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{prefix} lease {leaseFraction}: admitted per window " + string.Join(", ", perWindow.OrderBy(w => w.Key).Select(w => w.Value)));
        return perWindow;
    }
}
