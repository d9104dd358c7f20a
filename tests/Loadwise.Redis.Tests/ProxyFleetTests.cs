using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Loadwise.Tests.Shared;

namespace Loadwise.Redis.Tests;

/// <summary>
/// Two proxies and three backends, all real processes, sharing health through a real Redis. Proxy B has passive health
/// off and probes once a minute, so it can only learn of a dead backend from proxy A, through Redis.
/// </summary>
public sealed partial class ProxyFleetTests(RedisServer server) : IClassFixture<RedisServer>, IAsyncDisposable
{
    private static readonly string ProxyDll = Path.Combine(RepositoryRoot.Path, "src", "Loadwise.AotProxy", "bin", "Release", "net10.0", "loadwise-proxy.dll");
    private readonly List<Process> _processes = [];
    private readonly Dictionary<Process, System.Collections.Concurrent.ConcurrentQueue<string>> _output = [];

    [Fact]
    public async Task A_backend_killed_under_load_through_proxy_A_is_dropped_by_proxy_B_within_a_second_and_both_take_it_back()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        int[] backendPorts = [FreePort(), FreePort(), FreePort()];
        Process[] backends = [.. backendPorts.Select(StartBackend)];
        int portA = FreePort(), portB = FreePort();
        StartProxy(portA, backendPorts, passive: true, probeMs: 300);
        StartProxy(portB, backendPorts, passive: false, probeMs: 60_000);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (int port in new[] { portA, portB })
        {
            await Eventually.HoldsAsync(() => TryGet(client, port), TimeSpan.FromSeconds(30), $"proxy on {port} answers");
        }

        int failedA = 0, failedB = 0, okA = 0, okB = 0;
        using var stop = new CancellationTokenSource();
        var load = new List<Task>();
        for (int i = 0; i < 2; i++)
        {
            load.Add(LoadAsync(client, portA, () => Interlocked.Increment(ref okA), () => Interlocked.Increment(ref failedA), stop.Token));
            load.Add(LoadAsync(client, portB, () => Interlocked.Increment(ref okB), () => Interlocked.Increment(ref failedB), stop.Token));
        }

        await Task.Delay(1_000, ct);
        backends[1].Kill();
        await backends[1].WaitForExitAsync(ct);
        var since = Stopwatch.StartNew();
        TimeSpan? outOnA = null, outOnB = null;
        while ((outOnA is null || outOnB is null) && since.Elapsed < TimeSpan.FromSeconds(10))
        {
            outOnA ??= await HealthAsync(client, portA, "backend-2") == "unhealthy" ? since.Elapsed : null;
            outOnB ??= await HealthAsync(client, portB, "backend-2") == "unhealthy" ? since.Elapsed : null;
            await Task.Delay(10, ct);
        }

        Assert.NotNull(outOnA);
        Assert.NotNull(outOnB);
        long retriesB = await RetriesAsync(client, portB);
        await Task.Delay(1_500, ct);
        long retriesBLater = await RetriesAsync(client, portB);

        backends[1] = StartBackend(backendPorts[1]);
        await Eventually.HoldsAsync(
            () => HealthAsync(client, portA, "backend-2").Result == "healthy" && HealthAsync(client, portB, "backend-2").Result == "healthy",
            TimeSpan.FromSeconds(15),
            "both proxies take backend-2 back");
        await stop.CancelAsync();
        await Task.WhenAll(load);

        TestContext.Current.TestOutputHelper?.WriteLine($"A out at {outOnA.Value.TotalMilliseconds:0} ms, B at {outOnB.Value.TotalMilliseconds:0} ms after the kill; GETs A {okA} ok / {failedA} failed, B {okB} / {failedB}");
        Assert.True(outOnB.Value - outOnA.Value < TimeSpan.FromSeconds(1), $"B dropped backend-2 {(outOnB.Value - outOnA.Value).TotalMilliseconds} ms after A");
        Assert.Equal(retriesB, retriesBLater); // once B dropped it, none of B's requests went there
        Assert.Equal(0, failedA);
        Assert.Equal(0, failedB);
        Assert.True(okA > 100 && okB > 100, $"too little load: A {okA}, B {okB}");
    }

    [Fact]
    public async Task Redis_killed_under_load_costs_no_request_and_each_proxy_logs_one_outage_and_one_recovery_line()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        int[] backendPorts = [FreePort(), FreePort(), FreePort()];
        foreach (int port in backendPorts)
        {
            StartBackend(port);
        }

        int portA = FreePort(), portB = FreePort();
        Process proxyA = StartProxy(portA, backendPorts, passive: true, probeMs: 300, logLevel: "Information");
        Process proxyB = StartProxy(portB, backendPorts, passive: true, probeMs: 300, logLevel: "Information");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (int port in new[] { portA, portB })
        {
            await Eventually.HoldsAsync(() => TryGet(client, port), TimeSpan.FromSeconds(30), $"proxy on {port} answers");
        }

        int failed = 0, ok = 0;
        using var stop = new CancellationTokenSource();
        Task[] load =
        [
            LoadAsync(client, portA, () => Interlocked.Increment(ref ok), () => Interlocked.Increment(ref failed), stop.Token),
            LoadAsync(client, portB, () => Interlocked.Increment(ref ok), () => Interlocked.Increment(ref failed), stop.Token),
        ];

        await Task.Delay(1_000, ct);
        server.Kill();
        await Eventually.HoldsAsync(() => Lines(proxyA, "unreachable") == 1 && Lines(proxyB, "unreachable") == 1, TimeSpan.FromSeconds(5), "both log the outage");
        await Task.Delay(1_000, ct);
        await server.StartAsync();
        await Eventually.HoldsAsync(() => Lines(proxyA, "answers again after") == 1 && Lines(proxyB, "answers again after") == 1, TimeSpan.FromSeconds(5), "both log the recovery");
        await Task.Delay(1_000, ct);
        await stop.CancelAsync();
        await Task.WhenAll(load);

        Assert.Equal(0, failed);
        Assert.True(ok > 100, $"too little load: {ok}");
        foreach (Process proxy in new[] { proxyA, proxyB })
        {
            TestContext.Current.TestOutputHelper?.WriteLine(string.Join("\n", _output[proxy].Where(line => line.Contains("Redis", StringComparison.Ordinal))));
            Assert.Equal(1, Lines(proxy, "unreachable"));
            Assert.Equal(1, Lines(proxy, "answers again after"));
        }
    }

    [Fact]
    public async Task Two_proxies_sharing_the_client_limit_admit_a_client_at_most_the_limit_across_both()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        int[] backendPorts = [FreePort(), FreePort(), FreePort()];
        foreach (int port in backendPorts)
        {
            StartBackend(port);
        }

        // 40 per second for the one client (127.0.0.1) across both; each proxy's own bucket would also allow 40 alone.
        const string Limit = "\"RateLimiting\": { \"Enabled\": true, \"TokensPerSecond\": 40, \"Burst\": 40, \"Shared\": true, \"SyncMs\": 50 },";
        int portA = FreePort(), portB = FreePort();
        StartProxy(portA, backendPorts, passive: true, probeMs: 1000, extra: Limit);
        StartProxy(portB, backendPorts, passive: true, probeMs: 1000, extra: Limit);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (int port in new[] { portA, portB })
        {
            await Eventually.HoldsAsync(() => TryGet(client, port), TimeSpan.FromSeconds(30), $"proxy on {port} answers");
        }

        var admitted = new System.Collections.Concurrent.ConcurrentDictionary<long, int>();
        int refused = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3.5));
        Task[] load = [.. Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
        {
            int port = i % 2 == 0 ? portA : portB;
            while (!stop.IsCancellationRequested)
            {
                long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000;
                using HttpResponseMessage response = await client.GetAsync(new Uri($"http://127.0.0.1:{port}/"), CancellationToken.None);
                long after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000;
                if (response.StatusCode == HttpStatusCode.OK && before == after)
                {
                    admitted.AddOrUpdate(before, 1, (_, n) => n + 1);
                }
                else if (response.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    Interlocked.Increment(ref refused);
                }
            }
        }, ct))];
        await Task.WhenAll(load);

        string windows = string.Join(", ", admitted.OrderBy(w => w.Key).Select(w => $"{w.Key % 100}: {w.Value}"));
        TestContext.Current.TestOutputHelper?.WriteLine($"admitted per second {windows}; refused {refused}");
        // Unshared, the two proxies would admit 80 per second between them. The bound: 40, plus each proxy's provisional
        // share (40 / 2 / 10 syncs = 2), plus one for a request the client's clock puts in the neighbouring second.
        Assert.All(admitted, window => Assert.True(window.Value <= 40 + (2 * 2) + 1, $"second {window.Key} admitted {window.Value}: {windows}"));
        int[] full = [.. admitted.OrderBy(w => w.Key).Skip(1).SkipLast(1).Select(w => w.Value)];
        Assert.NotEmpty(full);
        Assert.All(full, count => Assert.True(count >= 30, $"a full second admitted only {count}: {windows}"));
        Assert.True(refused > 0);
    }

    [Fact]
    public async Task A_paused_Redis_slows_no_request_through_either_proxy()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        int[] backendPorts = [FreePort(), FreePort(), FreePort()];
        foreach (int port in backendPorts)
        {
            StartBackend(port);
        }

        int portA = FreePort(), portB = FreePort();
        StartProxy(portA, backendPorts, passive: true, probeMs: 300);
        StartProxy(portB, backendPorts, passive: true, probeMs: 300);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (int port in new[] { portA, portB })
        {
            await Eventually.HoldsAsync(() => TryGet(client, port), TimeSpan.FromSeconds(30), $"proxy on {port} answers");
        }

        // Two seconds of load with Redis up, then two with it stopped (SIGSTOP: connections stay open, nothing answers).
        (int Ok, int Failed, TimeSpan Slowest) before = await TimedLoadAsync(client, [portA, portB], TimeSpan.FromSeconds(2));
        server.Pause();
        (int Ok, int Failed, TimeSpan Slowest) paused;
        try
        {
            paused = await TimedLoadAsync(client, [portA, portB], TimeSpan.FromSeconds(2));
        }
        finally
        {
            server.Resume();
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"Redis up: {before.Ok} ok, slowest {before.Slowest.TotalMilliseconds:0} ms; paused: {paused.Ok} ok, {paused.Failed} failed, slowest {paused.Slowest.TotalMilliseconds:0} ms");
        Assert.Equal(0, before.Failed + paused.Failed);
        // A request that waited on Redis would wait out its 250 ms operation timeout: throughput would collapse.
        Assert.True(paused.Ok >= before.Ok / 2, $"{paused.Ok} requests with Redis paused against {before.Ok} with it up");
        Assert.True(paused.Slowest < TimeSpan.FromSeconds(1), $"slowest request with Redis paused: {paused.Slowest.TotalMilliseconds} ms");
        await Task.Delay(100, ct);
    }

    private static async Task<(int Ok, int Failed, TimeSpan Slowest)> TimedLoadAsync(HttpClient client, int[] ports, TimeSpan duration)
    {
        int ok = 0, failed = 0;
        long slowest = 0;
        using var stop = new CancellationTokenSource(duration);
        await Task.WhenAll(ports.SelectMany(port => new[] { port, port }).Select(port => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                long started = Stopwatch.GetTimestamp();
                try
                {
                    using HttpResponseMessage response = await client.GetAsync(new Uri($"http://127.0.0.1:{port}/"), CancellationToken.None);
                    Interlocked.Increment(ref response.StatusCode == HttpStatusCode.OK ? ref ok : ref failed);
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failed);
                }

                long took = Stopwatch.GetTimestamp() - started;
                long seen = Volatile.Read(ref slowest);
                while (took > seen && Interlocked.CompareExchange(ref slowest, took, seen) != seen)
                {
                    seen = Volatile.Read(ref slowest);
                }
            }
        })));
        return (ok, failed, Stopwatch.GetElapsedTime(0, slowest));
    }

    private int Lines(Process process, string containing) =>
        _output[process].Count(line => line.Contains("Redis state store", StringComparison.Ordinal) && line.Contains(containing, StringComparison.Ordinal));

    public ValueTask DisposeAsync()
    {
        foreach (Process process in _processes)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill();
                    process.WaitForExit();
                }
            }
            catch (InvalidOperationException)
            {
            }

            process.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    private static async Task LoadAsync(HttpClient client, int port, Action ok, Action failed, CancellationToken stop)
    {
        await Task.Yield();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using HttpResponseMessage response = await client.GetAsync(new Uri($"http://127.0.0.1:{port}/"), CancellationToken.None);
                (response.StatusCode == HttpStatusCode.OK ? ok : failed)();
            }
            catch (HttpRequestException)
            {
                failed();
            }
        }
    }

    private static bool TryGet(HttpClient client, int port)
    {
        try
        {
            return client.GetAsync(new Uri($"http://127.0.0.1:{port}/")).Result.StatusCode == HttpStatusCode.OK;
        }
        catch (AggregateException)
        {
            return false;
        }
    }

    private static async Task<string?> HealthAsync(HttpClient client, int port, string backend)
    {
        string metrics = await client.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
        foreach (Match match in HealthLine().Matches(metrics))
        {
            if (match.Groups["backend"].Value == backend && match.Groups["value"].Value == "1")
            {
                return match.Groups["state"].Value;
            }
        }

        return null;
    }

    private static async Task<long> RetriesAsync(HttpClient client, int port)
    {
        string metrics = await client.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
        Match match = RetriedLine().Match(metrics);
        return match.Success ? long.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture) : 0;
    }

    private Process StartBackend(int port)
    {
        // The proxy's demo mode runs its demo backends in-process: one process per backend here, listening on the port
        // given (the demo's other two backends and its proxy go to ports nobody uses).
        return Start(
            "--demo",
            $"--Listen:0=http://127.0.0.1:{FreePort()}",
            $"--Backends:0:Url=http://127.0.0.1:{port}",
            $"--Backends:1:Url=http://127.0.0.1:{FreePort()}",
            $"--Backends:2:Url=http://127.0.0.1:{FreePort()}",
            "--HealthChecks:Enabled=false",
            "--Log:Level=Warning");
    }

    private Process StartProxy(int port, int[] backendPorts, bool passive, int probeMs, string logLevel = "Warning", string extra = "")
    {
        string config = Path.Combine(server.Directory, $"proxy-{port}.json");
        File.WriteAllText(config, $$"""
            {
              "Listen": [ "http://127.0.0.1:{{port}}" ],
              "Backends": [
                { "Id": "backend-1", "Url": "http://127.0.0.1:{{backendPorts[0]}}" },
                { "Id": "backend-2", "Url": "http://127.0.0.1:{{backendPorts[1]}}" },
                { "Id": "backend-3", "Url": "http://127.0.0.1:{{backendPorts[2]}}" }
              ],
              "HealthChecks": { "IntervalMs": {{probeMs}}, "TimeoutMs": 200, "JitterMs": 0, "Passive": { "Enabled": {{(passive ? "true" : "false")}} } },
              "Retries": { "Count": 2, "BudgetMinRetries": 1000 },
              {{extra}}
              "State": { "Redis": "{{server.Configuration}}", "KeyPrefix": "fleet:", "ReconcileMs": 1000 },
              "Log": { "Level": "{{logLevel}}" }
            }
            """);
        return Start("--config", config);
    }

    private Process Start(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(ProxyDll);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        _output[process] = lines;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lines.Enqueue(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lines.Enqueue(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
        return process;
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [GeneratedRegex("""loadwise_backend_health\{backend="(?<backend>[^"]+)",state="(?<state>[^"]+)"\} (?<value>\d+)""")]
    private static partial Regex HealthLine();

    [GeneratedRegex("""loadwise_retries_total\{result="retried"\} (?<value>\d+)""")]
    private static partial Regex RetriedLine();
}
