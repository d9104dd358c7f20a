using System.Text.Json;
using Loadwise.AotProxy.Admin;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Hosting;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// Reload without a restart: a valid configuration is swapped in whole while requests keep flowing, an invalid one
/// changes nothing, and what a backend kept across the reload had (health, pooled connections, drain) carries on.
/// </summary>
public sealed class ReloadTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly string _folder = Directory.CreateTempSubdirectory("loadwise-reload-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Twenty_reloads_under_load_fail_no_request_and_send_new_requests_only_to_the_new_backends()
    {
        // Four backends: the proxy starts on b1 and b2, then alternates with b3 and b4, with an invalid file between.
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Backends.RemoveRange(2, 2), backendCount: 4);
        string file = Path.Combine(_folder, "loadwise.json");
        UseFileAsSource(proxy, file);
        string[] setA = [proxy.Backends[0].Name, proxy.Backends[1].Name];
        string[] setB = [proxy.Backends[2].Name, proxy.Backends[3].Name];

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        int served = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        Task[] load = [.. Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            using var client = new HttpClient(TestProxy.NewHandler()) { BaseAddress = proxy.BaseUri };
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using HttpResponseMessage response = await client.GetAsync("/", stop.Token);
                    Interlocked.Increment(ref served);
                    if (!response.IsSuccessStatusCode)
                    {
                        failures.Enqueue($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(stop.Token)}");
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
                catch (HttpRequestException e)
                {
                    failures.Enqueue(e.ToString());
                }
            }
        }, Ct))];

        string[] current = setA;
        for (int reload = 0; reload < 20; reload++)
        {
            if (reload % 3 == 2)
            {
                await File.WriteAllTextAsync(file, """{ "Listen": [ "http://127.0.0.1:0" ], "Backends": [], "Strategy": { "Name": "Fastest" } }""", Ct);
                ReloadOutcome refused = await proxy.Server.ReloadAsync("test");
                Assert.False(refused.Applied);
                Assert.Contains(refused.Problems, p => p.StartsWith("config error: Backends:", StringComparison.Ordinal));
                Assert.Contains(refused.Problems, p => p.StartsWith("config error: Strategy:Name:", StringComparison.Ordinal));
            }
            else
            {
                current = current == setA ? setB : setA;
                await File.WriteAllTextAsync(file, Config(proxy, current), Ct);
                ReloadOutcome applied = await proxy.Server.ReloadAsync("test");
                Assert.True(applied.Applied, string.Join("; ", applied.Problems));
                Assert.Empty(applied.NeedsRestart);
            }

            // Whatever was refused, new requests go to the set in force, and only to it.
            Dictionary<string, int> counts = await proxy.CountAsync(12);
            Assert.All(counts.Keys, name => Assert.Contains(name, current));
            Assert.True(current.Length == counts.Count, $"reload {reload}: 12 requests reached {string.Join(", ", counts)}, expected both of {string.Join(", ", current)}");
        }

        await stop.CancelAsync();
        await Task.WhenAll(load);
        Assert.True(served > 100, $"only {served} requests were sent during the reloads");
        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(5)));
        Assert.Contains("loadwise_config_reloads_total{result=\"applied\"} 14", proxy.Scrape(), StringComparison.Ordinal);
        Assert.Contains("loadwise_config_reloads_total{result=\"invalid\"} 6", proxy.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_backend_kept_across_a_reload_keeps_its_health_and_its_pooled_connections()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.HealthChecks.Enabled = false, backendCount: 3);
        Backends.Backend kept = proxy.Server.Backends[0];
        _ = await proxy.CountAsync(6);
        int idleBefore = proxy.Server.IdleBackendConnections;
        Assert.True(idleBefore > 0);
        proxy.Server.Health.Tracker.ReportFailure(proxy.Server.Backends[1].Id);
        for (int i = 0; i < 5; i++)
        {
            proxy.Server.Health.Tracker.ReportFailure(proxy.Server.Backends[1].Id);
        }

        Assert.Equal(HealthStatus.Unhealthy, proxy.Server.Health.Tracker.GetStatus(proxy.Server.Backends[1].Id));

        // The third backend goes, the first two stay.
        ProxyOptions next = Options(proxy, [proxy.Backends[0].Name, proxy.Backends[1].Name], o => o.HealthChecks.Enabled = false);
        ReloadOutcome outcome = await proxy.Server.ApplyAsync(next, "test");
        Assert.True(outcome.Applied);

        Assert.Same(kept, proxy.Server.Backends[0]);
        Assert.Equal(HealthStatus.Unhealthy, proxy.Server.Health.Tracker.GetStatus(proxy.Server.Backends[1].Id));
        Assert.True(proxy.Server.IdleBackendConnections > 0, "the kept backend's idle connections were dropped");
        Dictionary<string, int> counts = await proxy.CountAsync(6);
        Assert.Equal([proxy.Backends[0].Name], counts.Keys);
    }

    [Fact]
    public async Task Keys_that_need_a_restart_are_named_and_the_rest_applies()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(backendCount: 2);
        ProxyOptions next = Options(proxy, [proxy.Backends[0].Name], o =>
        {
            o.Listen[0] = "http://127.0.0.1:1";
            o.Limits.MaxRequestHeaderCount = 50;
            o.Strategy.Name = "LeastLoad";
        });

        ReloadOutcome outcome = await proxy.Server.ApplyAsync(next, "test");
        Assert.True(outcome.Applied);
        Assert.Equal(["Listen", "Limits"], outcome.NeedsRestart);
        Assert.Equal("LeastLoad", proxy.Server.StrategyName);
        Assert.Equal([proxy.Backends[0].Name], (await proxy.CountAsync(4)).Keys);
    }

    [Fact]
    public async Task An_invalid_configuration_changes_nothing_and_says_what_is_wrong_as_check_config_does()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(backendCount: 2);
        string file = Path.Combine(_folder, "bad.json");
        await File.WriteAllTextAsync(file, """{ "Backends": [ { "Id": "x", "Url": "ftp://nowhere" } ], "Retries": { "Count": -1 } """, Ct);
        UseFileAsSource(proxy, file);

        ReloadOutcome outcome = await proxy.Server.ReloadAsync("test");

        Assert.False(outcome.Applied);
        var stdout = new StringWriter();
        int exit = await ProxyProgram.RunAsync(["--check-config", file], stdout, new StringWriter(), new Dictionary<string, string>());
        Assert.Equal(ProxyProgram.ExitCheckFailed, exit);
        Assert.Equal(stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), outcome.Problems);
        Assert.Equal(2, proxy.Server.Backends.Count);
        Assert.Equal(2, (await proxy.CountAsync(4)).Count);
    }

    [Fact]
    public async Task A_watched_file_reloads_when_it_changes()
    {
        string file = Path.Combine(_folder, "watched.json");
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Reload.WatchFile = true, backendCount: 2);
        // The watch starts with the proxy; this test proxy was made from options, so give it the file and start the watch.
        await File.WriteAllTextAsync(file, Config(proxy, [proxy.Backends[0].Name, proxy.Backends[1].Name], watch: true), Ct);
        UseFileAsSource(proxy, file);
        proxy.Server.ConfigFile = file;
        proxy.Server.WatchConfigFile();

        await File.WriteAllTextAsync(file, Config(proxy, [proxy.Backends[1].Name], watch: true), Ct);
        await ScriptedBackend.WaitForAsync(() => proxy.Server.Backends.Count == 1, "the watched file's change to be applied", 10_000);
        Assert.Equal([proxy.Backends[1].Name], (await proxy.CountAsync(4)).Keys);
    }

    private static void UseFileAsSource(TestProxy proxy, string file) =>
        proxy.Server.ReloadSource = () =>
        {
            List<string> problems = ProxyProgram.LoadAndValidate(new ConfigSources(file, null, []), new Dictionary<string, string>(), out ProxyOptions options);
            return (options, problems);
        };

    private static ProxyOptions Options(TestProxy proxy, string[] names, Action<ProxyOptions>? configure = null)
    {
        var options = new ProxyOptions();
        options.Listen.Add("http://127.0.0.1:0");
        foreach (DemoBackend backend in proxy.Backends.Where(b => names.Contains(b.Name)))
        {
            options.Backends.Add(new BackendOptions { Id = backend.Name, Url = backend.Url });
        }

        configure?.Invoke(options);
        return options;
    }

    private static string Config(TestProxy proxy, string[] names, bool watch = false)
    {
        var backends = proxy.Backends.Where(b => names.Contains(b.Name)).Select(b => new Dictionary<string, string> { ["Id"] = b.Name, ["Url"] = b.Url });
        return $$"""{ "Listen": [ "http://127.0.0.1:0" ], "Reload": { "WatchFile": {{(watch ? "true" : "false")}} }, "Backends": {{JsonSerializer.Serialize(backends)}} }""";
    }
}
