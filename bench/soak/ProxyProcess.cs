using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Loadwise.Soak;

/// <summary>One reading of the proxy process: open descriptors (sockets among them), resident memory, threads.</summary>
internal sealed record ProcessSample(string Label, TimeSpan At, int Descriptors, int Sockets, long RssKiB, int Threads, double RequestsPerSecond)
{
    /// <summary>Gets the lowest and highest descriptor counts among the readings the median came from.</summary>
    public (int Min, int Max) DescriptorRange { get; init; }

    /// <summary>Gets the proxy's TCP sockets at the last reading, by peer and state ("be-a ESTABLISHED 30, ...").</summary>
    public string Breakdown { get; init; } = string.Empty;
}

/// <summary>
/// loadwise-proxy as a separate process in its own session (<c>setsid</c>: with autogroup scheduling it gets its own
/// share of the CPU, apart from the load this tool generates), its output in a log file.
/// </summary>
internal sealed class ProxyProcess : IAsyncDisposable
{
    private readonly Process _process;

    private static readonly string[] TcpStates = ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"];

    private IReadOnlyList<(string Id, int Port)> _backends = [];

    private ProxyProcess(Process process, int port, string logPath)
    {
        _process = process;
        Pid = process.Id;
        Port = port;
        LogPath = logPath;
    }

    /// <summary>Gets how long one reading takes (ten readings 500 ms apart).</summary>
    public static TimeSpan SampleWindow { get; } = TimeSpan.FromMilliseconds(4600);

    public int Port { get; }

    public int Pid { get; }

    public string LogPath { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>Gets the exit code once the process has exited (kept after disposal).</summary>
    public int ExitCode => _exitCode ??= _process.ExitCode;

    private int? _exitCode;

    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>Writes the configuration, starts the proxy and waits until it answers its metrics path.</summary>
    public static async Task<ProxyProcess> StartAsync(string proxyPath, string workDir, IReadOnlyList<(string Id, int Port)> backends)
    {
        int port = FreePort();
        string config = Path.Combine(workDir, "loadwise-soak.json");
        string backendsJson = string.Join(",\n    ", backends.Select(b => $"{{ \"Id\": \"{b.Id}\", \"Url\": \"http://127.0.0.1:{b.Port}\" }}"));
        await File.WriteAllTextAsync(config, $$"""
            {
              "Listen": [ "http://127.0.0.1:{{port}}" ],
              "Backends": [
                {{backendsJson}}
              ],
              "Strategy": { "Name": "RoundRobin" },
              "Log": { "Level": "Information" }
            }
            """).ConfigureAwait(false);

        string log = Path.Combine(workDir, "proxy.log");
        var start = new ProcessStartInfo("setsid") { UseShellExecute = false, RedirectStandardInput = true };
        start.Environment["SOAK_PROXY_LOG"] = log;

        // sh execs the proxy in place (same pid), so Pid is the proxy's own.
        foreach (string arg in new[] { "sh", "-c", "exec \"$0\" \"$@\" >>\"$SOAK_PROXY_LOG\" 2>&1" })
        {
            start.ArgumentList.Add(arg);
        }

        if (proxyPath.EndsWith(".dll", StringComparison.Ordinal))
        {
            start.ArgumentList.Add("dotnet");
        }

        start.ArgumentList.Add(proxyPath);
        start.ArgumentList.Add("--config");
        start.ArgumentList.Add(config);
        Process process = Process.Start(start) ?? throw new InvalidOperationException("could not start setsid");
        var proxy = new ProxyProcess(process, port, log) { _backends = backends };
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the proxy exited with {process.ExitCode} at start; its log: {log}\n{await File.ReadAllTextAsync(log).ConfigureAwait(false)}");
            }

            try
            {
                using HttpResponseMessage response = await client.GetAsync(new Uri($"http://127.0.0.1:{port}/metrics")).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(20))
            {
                throw new InvalidOperationException($"the proxy did not answer on port {port} within 20 s; its log: {log}");
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        string comm = (await File.ReadAllTextAsync($"/proc/{process.Id}/comm").ConfigureAwait(false)).Trim();
        string stat = await File.ReadAllTextAsync($"/proc/{process.Id}/stat").ConfigureAwait(false);
        int sid = int.Parse(stat[(stat.LastIndexOf(") ", StringComparison.Ordinal) + 2)..].Split(' ')[3], CultureInfo.InvariantCulture); // state ppid pgrp session
        if (sid != process.Id)
        {
            throw new InvalidOperationException($"pid {process.Id} ({comm}) is not a session leader (session {sid}): setsid forked");
        }

        return proxy;
    }

    /// <summary>
    /// Reads /proc/PID: the median of ten readings 500 ms apart, so that pooled connections opening and closing around
    /// one instant do not decide it.
    /// </summary>
    public async Task<ProcessSample> SampleAsync(string label, TimeSpan at, double requestsPerSecond)
    {
        var fds = new List<int>();
        var sockets = new List<int>();
        var rss = new List<long>();
        var threads = new List<int>();
        for (int i = 0; i < 10; i++)
        {
            if (i > 0)
            {
                await Task.Delay(500).ConfigureAwait(false);
            }

            int fd = 0, socket = 0;
            foreach (string entry in Directory.EnumerateFileSystemEntries($"/proc/{Pid}/fd"))
            {
                fd++;
                try
                {
                    socket += File.ResolveLinkTarget(entry, false)?.Name.StartsWith("socket:", StringComparison.Ordinal) == true ? 1 : 0;
                }
                catch (IOException)
                {
                    // Closed while we looked.
                }
            }

            fds.Add(fd);
            sockets.Add(socket);
            string[] status = await File.ReadAllLinesAsync($"/proc/{Pid}/status").ConfigureAwait(false);
            rss.Add(long.Parse(Field(status, "VmRSS:").Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture));
            threads.Add(int.Parse(Field(status, "Threads:"), CultureInfo.InvariantCulture));
        }

        return new ProcessSample(label, at, Median(fds), Median(sockets), Median(rss), Median(threads), requestsPerSecond)
        {
            DescriptorRange = (fds.Min(), fds.Max()),
            Breakdown = await SocketsByPeerAsync().ConfigureAwait(false),
        };
    }

    /// <summary>The proxy's TCP sockets by peer (a client, a backend by name, the listener) and state, from /proc/PID/net/tcp.</summary>
    private async Task<string> SocketsByPeerAsync()
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (string entry in Directory.EnumerateFileSystemEntries($"/proc/{Pid}/fd"))
        {
            try
            {
                string? target = File.ResolveLinkTarget(entry, false)?.Name;
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
                {
                    inodes.Add(target[8..^1]);
                }
            }
            catch (IOException)
            {
            }
        }

        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (string file in new[] { "tcp", "tcp6" })
        {
            string path = $"/proc/{Pid}/net/{file}";
            if (!File.Exists(path))
            {
                continue;
            }

            foreach (string line in (await File.ReadAllLinesAsync(path).ConfigureAwait(false)).Skip(1))
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 10 || !inodes.Contains(f[9]))
                {
                    continue;
                }

                int local = Convert.ToInt32(f[1][(f[1].LastIndexOf(':') + 1)..], 16);
                int remote = Convert.ToInt32(f[2][(f[2].LastIndexOf(':') + 1)..], 16);
                int state = Convert.ToInt32(f[3], 16);
                string peer = state == 10 ? "listener" : local == Port ? "client" : _backends.FirstOrDefault(b => b.Port == remote).Id ?? $"port {remote}";
                string key = $"{peer} {(state < TcpStates.Length ? TcpStates[state] : f[3])}";
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }

        return string.Join(", ", counts.Select(p => $"{p.Key} {p.Value}"));
    }

    private static string Field(string[] status, string name) => status.First(l => l.StartsWith(name, StringComparison.Ordinal))[name.Length..].Trim();

    private static T Median<T>(List<T> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    /// <summary>The proxy's own counters at the end (requests by backend and status, drops, retries, health changes), non-zero lines only.</summary>
    public async Task<List<string>> ScrapeAsync()
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        string text = await client.GetStringAsync(new Uri($"http://127.0.0.1:{Port}/metrics")).ConfigureAwait(false);
        string[] wanted = ["loadwise_requests_total", "loadwise_requests_dropped_total", "loadwise_retries_total", "loadwise_health_transitions_total"];
        return text.Split('\n')
            .Where(l => wanted.Any(w => l.StartsWith(w + "{", StringComparison.Ordinal) || l.StartsWith(w + " ", StringComparison.Ordinal)))
            .Where(l => !l.EndsWith(" 0", StringComparison.Ordinal))
            .ToList();
    }

    /// <summary>SIGTERM (the proxy drains), then SIGKILL if it is still there after 15 s.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync().ConfigureAwait(false);
            }

            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        _exitCode = _process.ExitCode;
        _process.Dispose();
    }
}
