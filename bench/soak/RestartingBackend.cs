using System.Diagnostics;
using System.Globalization;

namespace Loadwise.Soak;

/// <summary>
/// A well-behaved backend in a child process (this tool, <c>backend</c> command) that is killed with SIGKILL every
/// period and started again on the same port after a short pause: every connection it held dies at once, the way a
/// crashed server's do.
/// </summary>
internal sealed class RestartingBackend : IAsyncDisposable
{
    private readonly string _name;
    private readonly TimeSpan _period;
    private readonly TimeSpan _down;
    private readonly Stats _stats;
    private readonly CancellationTokenSource _stop = new();
    private Process? _child;
    private Task? _cycling;

    private RestartingBackend(string name, TimeSpan period, TimeSpan down, Stats stats)
    {
        _name = name;
        _period = period;
        _down = down;
        _stats = stats;
    }

    public int Port { get; private set; }

    public int Kills { get; private set; }

    public int Starts { get; private set; }

    /// <summary>Gets the longest time from a kill to the child answering again.</summary>
    public TimeSpan LongestOutage { get; private set; }

    public static async Task<RestartingBackend> StartAsync(string name, TimeSpan period, TimeSpan down, Stats stats)
    {
        var backend = new RestartingBackend(name, period, down, stats);
        backend.Port = await backend.LaunchAsync(0, CancellationToken.None).ConfigureAwait(false);
        return backend;
    }

    /// <summary>
    /// Starts killing it every period, half a period out of step with the start, so that the kills fall between the
    /// soak's per-minute readings rather than inside them.
    /// </summary>
    public void BeginCycling() => _cycling = CycleAsync();

    private async Task CycleAsync()
    {
        var clock = Stopwatch.StartNew();
        try
        {
            for (int k = 0; ; k++)
            {
                TimeSpan wait = (_period / 2) + (k * _period) - clock.Elapsed;
                await Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, _stop.Token).ConfigureAwait(false);
                long killedAt = Stopwatch.GetTimestamp();
                Kill(count: true);

                // Once killed it always comes back, so stopping the cycle never leaves it dead.
                await Task.Delay(_down, CancellationToken.None).ConfigureAwait(false);
                await LaunchAsync(Port, CancellationToken.None).ConfigureAwait(false);
                TimeSpan outage = Stopwatch.GetElapsedTime(killedAt);
                LongestOutage = outage > LongestOutage ? outage : LongestOutage;
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private void Kill(bool count)
    {
        if (_child is { HasExited: false } child)
        {
            child.Kill(); // SIGKILL
            child.WaitForExit();
            Kills += count ? 1 : 0;
        }

        _child?.Dispose();
        _child = null;
    }

    /// <summary>Starts the child and waits for its "ready PORT" line; retries while the port is still taken.</summary>
    private async Task<int> LaunchAsync(int port, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet")
            {
                RedirectStandardInput = true, // the child exits when this pipe closes: no orphan if the soak dies
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            if (Path.GetFileNameWithoutExtension(start.FileName) == "dotnet")
            {
                start.ArgumentList.Add(typeof(RestartingBackend).Assembly.Location);
            }

            foreach (string arg in new[] { "backend", "--name", _name, "--port", port.ToString(CultureInfo.InvariantCulture) })
            {
                start.ArgumentList.Add(arg);
            }

            var child = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
            string? line = await child.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (line is not null && line.StartsWith("ready ", StringComparison.Ordinal))
            {
                _child = child;
                Starts++;
                _ = child.StandardError.ReadToEndAsync(CancellationToken.None);
                return int.Parse(line["ready ".Length..], CultureInfo.InvariantCulture);
            }

            string error = await child.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            await child.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            child.Dispose();
            Stats.Add(_stats.Events, "restarting backend start retried");
            if (attempt >= 50)
            {
                throw new InvalidOperationException($"the restarting backend did not start on port {port}: {error.Trim()}");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The child's side: serve until the parent closes standard input.</summary>
    public static async Task<int> RunChildAsync(string name, int port)
    {
        GoodBackend backend;
        try
        {
            backend = await GoodBackend.StartAsync(name, port, stats: null).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync($"port {port}: {e.Message}").ConfigureAwait(false);
            return 3;
        }

        await Console.Out.WriteLineAsync($"ready {backend.Port}").ConfigureAwait(false);
        await Console.Out.FlushAsync().ConfigureAwait(false);
        await Console.In.ReadToEndAsync().ConfigureAwait(false);
        await backend.DisposeAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>Stops the kill-and-restart cycle, leaving the child as it is (running, or started again shortly).</summary>
    public async Task StopCyclingAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_cycling is not null)
        {
            await _cycling.ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopCyclingAsync().ConfigureAwait(false);

        Kill(count: false);
        _stop.Dispose();
    }
}
