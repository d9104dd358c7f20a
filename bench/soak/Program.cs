using System.Diagnostics;
using System.Globalization;
using Loadwise.Soak;

// The soak: backends, the proxy in its own session, the load, the samples, the report. README.md beside this file.
if (args is ["backend", "--name", var childName, "--port", var childPort])
{
    return await RestartingBackend.RunChildAsync(childName, int.Parse(childPort, CultureInfo.InvariantCulture));
}

if (args is ["--help"] or ["-h"])
{
    Console.WriteLine(SoakOptions.Usage);
    return 0;
}

SoakOptions options = SoakOptions.Parse(args, out string? problem);
if (problem is not null)
{
    Console.Error.WriteLine(problem);
    Console.Error.WriteLine(SoakOptions.Usage);
    return 2;
}

string root = RepoRoot();
string proxyPath = Path.GetFullPath(options.Proxy ?? Path.Combine(root, "artifacts", "aot", "loadwise-proxy"), root);
string reportPath = Path.GetFullPath(options.Report ?? Path.Combine(root, "bench", "results", "soak-proxy.md"), root);
if (!File.Exists(proxyPath))
{
    Console.Error.WriteLine($"--proxy: got '{proxyPath}', which does not exist; publish it first: dotnet publish src/Loadwise.AotProxy -c Release -r linux-x64 -o artifacts/aot");
    return 2;
}

using var interrupted = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true; // stop the load, then clean up and write the report
    interrupted.Cancel();
};

var report = new SoakReport(options, proxyPath, root) { Started = DateTime.UtcNow };
var stats = new Stats(Random.Shared.Next().ToString("x8", CultureInfo.InvariantCulture));
var clock = Stopwatch.StartNew();
DirectoryInfo work = Directory.CreateTempSubdirectory("loadwise-soak-");
GoodBackend? a = null, b = null;
RawBackend? raw = null;
RestartingBackend? restarting = null;
ProxyProcess? proxy = null;
try
{
    a = await GoodBackend.StartAsync("be-a", 0, stats);
    b = await GoodBackend.StartAsync("be-b", 0, stats);
    raw = new RawBackend(stats, options.Seed, options.SendLateStrays);
    restarting = await RestartingBackend.StartAsync("be-restart", options.RestartEvery, options.RestartDown, stats);
    proxy = await ProxyProcess.StartAsync(proxyPath, work.FullName, [("be-a", a.Port), ("be-b", b.Port), ("raw-bad", raw.Port), ("be-restart", restarting.Port)]);
    Log($"proxy pid {proxy.Pid} on 127.0.0.1:{proxy.Port} (own session); backends be-a :{a.Port}, be-b :{b.Port}, raw-bad :{raw.Port}, be-restart :{restarting.Port}; work dir {work.FullName}");

    // Let the first health probes pass so the run starts with every backend in.
    await Task.Delay(TimeSpan.FromSeconds(3), interrupted.Token);
    report.Samples.Add(await proxy.SampleAsync("before load", TimeSpan.Zero, 0));

    var check = new ResponseCheck(stats, clock);
    using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(interrupted.Token);
    restarting.BeginCycling();
    var loadClock = Stopwatch.StartNew();
    Task[] loops = new Clients(stats, check, options, proxy.Port).Start(stopLoad.Token);
    Log($"load: {options.Clients} clients for {options.Duration}, samples every {options.SampleEvery}");

    long lastCount = 0;
    TimeSpan lastAt = TimeSpan.Zero;
    for (int k = 1; ; k++)
    {
        // A reading takes ProxyProcess.SampleWindow and ends when it is due, so the last one ends with the load.
        TimeSpan due = k * options.SampleEvery < options.Duration ? k * options.SampleEvery : options.Duration;
        TimeSpan sampleFrom = due - ProxyProcess.SampleWindow > lastAt ? due - ProxyProcess.SampleWindow : lastAt;
        await WaitUntilAsync(loadClock, sampleFrom, proxy, interrupted.Token);
        Task<ProcessSample> sampling = proxy.SampleAsync(SoakReport.Clock(due), due, 0);
        await WaitUntilAsync(loadClock, due, proxy, interrupted.Token);
        await sampling.ContinueWith(_ => { }, TaskScheduler.Default);

        if (proxy.HasExited)
        {
            report.Aborted = $"the proxy exited with code {proxy.ExitCode} at {loadClock.Elapsed:mm\\:ss} into the load";
            break;
        }

        if (interrupted.IsCancellationRequested)
        {
            report.Aborted = $"interrupted (Ctrl+C) at {loadClock.Elapsed:mm\\:ss} into the load";
            break;
        }

        long count = stats.Completed;
        TimeSpan at = loadClock.Elapsed;
        double rps = (count - lastCount) / (at - lastAt).TotalSeconds;
        (lastCount, lastAt) = (count, at);
        ProcessSample sample = await sampling with { RequestsPerSecond = rps };
        report.Samples.Add(sample);
        Log($"{sample.Label}: {rps,8:F0} req/s, fds {sample.Descriptors} ({sample.Sockets} sockets), RSS {sample.RssKiB / 1024.0:F1} MiB, threads {sample.Threads}; "
            + $"wrong-client {Stats.Sum(stats.WrongClient)}, errors {stats.Completed - stats.Outcomes.GetValueOrDefault("200") - stats.Outcomes.GetValueOrDefault("204")}");
        if (due >= options.Duration)
        {
            break;
        }
    }

    report.LoadSeconds = loadClock.Elapsed.TotalSeconds;
    await stopLoad.CancelAsync();
    await Task.WhenAll(loops);
    await restarting.StopCyclingAsync();
    var idleClock = Stopwatch.StartNew();
    if (!proxy.HasExited)
    {
        await Task.Delay(TimeSpan.FromSeconds(5));
        report.Samples.Add(await proxy.SampleAsync("5 s after the load", loadClock.Elapsed, 0));
        report.Metrics = await proxy.ScrapeAsync();
    }

    if (options.IdleAfter > TimeSpan.Zero && !proxy.HasExited && !interrupted.IsCancellationRequested)
    {
        Log($"load stopped; idle for {options.IdleAfter.TotalSeconds:F0} s, past the proxy's keep-alive timeouts");
        TimeSpan left = options.IdleAfter - idleClock.Elapsed;
        if (left > TimeSpan.Zero)
        {
            await Task.Delay(left, interrupted.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        report.Samples.Add(await proxy.SampleAsync($"{idleClock.Elapsed.TotalSeconds:F0} s after the load", loadClock.Elapsed, 0));
    }
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    report.Aborted ??= $"the soak failed: {e.GetType().Name}: {e.Message}";
    Log(report.Aborted);
}
finally
{
    if (proxy is not null)
    {
        bool diedDuringRun = proxy.HasExited && report.Aborted?.StartsWith("the proxy exited", StringComparison.Ordinal) == true;
        await proxy.DisposeAsync();
        report.ProxyExit = diedDuringRun ? $"exited during the run with code {proxy.ExitCode}" : $"exited with code {proxy.ExitCode} after SIGTERM";
        report.ProxyLog = await File.ReadAllLinesAsync(proxy.LogPath);
        report.ProxyPid = proxy.Pid;
    }

    if (restarting is not null)
    {
        report.Restarts = (restarting.Kills, restarting.Starts, restarting.LongestOutage);
        await restarting.DisposeAsync();
    }

    if (raw is not null)
    {
        await raw.DisposeAsync();
    }

    if (b is not null)
    {
        await b.DisposeAsync();
    }

    if (a is not null)
    {
        await a.DisposeAsync();
    }
}

string markdown = report.Write(stats);
Directory.CreateDirectory(Path.GetDirectoryName(reportPath)!);
await File.WriteAllTextAsync(reportPath, markdown);
Console.WriteLine(markdown);
if (Stats.Sum(stats.WrongClient) == 0 && stats.Anomalies.IsEmpty && report.Aborted is null)
{
    work.Delete(recursive: true);
    Log($"report: {reportPath}");
}
else
{
    Log($"report: {reportPath}; kept the proxy's configuration and log in {work.FullName}");
}
return Stats.Sum(stats.WrongClient) > 0 ? 1 : report.Aborted is null ? 0 : 3;

static async Task WaitUntilAsync(Stopwatch clock, TimeSpan due, ProxyProcess proxy, CancellationToken interrupted)
{
    while (clock.Elapsed < due && !proxy.HasExited && !interrupted.IsCancellationRequested)
    {
        TimeSpan left = due - clock.Elapsed;
        await Task.Delay(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), CancellationToken.None);
    }
}

static void Log(string message) => Console.Error.WriteLine($"[soak {DateTime.UtcNow:HH:mm:ss}] {message}");

static string RepoRoot()
{
    for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Loadwise.sln")))
        {
            return dir.FullName;
        }
    }

    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Loadwise.sln")))
        {
            return dir.FullName;
        }
    }

    return Directory.GetCurrentDirectory();
}
