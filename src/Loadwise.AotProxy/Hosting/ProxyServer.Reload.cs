using System.Runtime.InteropServices;
using Loadwise.AotProxy.Admin;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Logging;
using Loadwise.AotProxy.Metrics;

namespace Loadwise.AotProxy.Hosting;

/// <summary>
/// Reload without a restart: SIGHUP, a change to the configuration file (<c>Reload:WatchFile</c>) or
/// <c>POST /admin/reload</c> re-reads the configuration. A valid one is swapped in whole (<see cref="ProxyGeneration"/>):
/// new requests see it at once, requests under way finish on the old one, which is then retired. An invalid one changes
/// nothing: each problem is logged as <c>--check-config</c> prints it, and the running configuration stays. Keys that
/// only a restart can change are named in a log line; the rest of the change applies.
/// </summary>
internal sealed partial class ProxyServer
{
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private readonly List<(ProxyGeneration Generation, Task Retirement)> _retiring = [];
    private readonly Lock _retiringGate = new();
    private const int SigUsr1 = 10;

    private PosixSignalRegistration? _hangUp;
    private PosixSignalRegistration? _reopenLog;
    private FileSystemWatcher? _watcher;
    private ITimer? _watchQuiet;

    /// <summary>
    /// Gets or sets what a reload reads: the configuration's sources again, bound and validated (the problems, or none).
    /// Without it (a proxy made from options alone) only <see cref="ApplyAsync"/> can change the configuration.
    /// </summary>
    public Func<(ProxyOptions Options, List<string> Problems)>? ReloadSource { get; set; }

    /// <summary>Gets or sets the configuration file <c>Reload:WatchFile</c> watches, or null (the demo has none).</summary>
    public string? ConfigFile { get; set; }

    /// <summary>Re-reads the configuration from <see cref="ReloadSource"/> and applies it when valid.</summary>
    /// <param name="trigger">What asked for it, for the log (SIGHUP, the file watch, the admin API).</param>
    public async Task<ReloadOutcome> ReloadAsync(string trigger)
    {
        // Certificates are re-read whatever the configuration holds: a renewed certificate needs no other change.
        _tls?.Reload(trigger);
        if (ReloadSource is not { } source)
        {
            return Refused(trigger, ["reload: this proxy was started without a configuration source to read again"]);
        }

        // Read under the gate: two reloads at once (SIGHUP and the file watch) apply in the order they read the file.
        await _reloadGate.WaitAsync().ConfigureAwait(false);
        try
        {
            (ProxyOptions options, List<string> problems) = source();
            return problems.Count > 0 ? Refused(trigger, problems) : await ApplyLockedAsync(options, trigger).ConfigureAwait(false);
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    /// <summary>Swaps in <paramref name="options"/>, which must be valid (<see cref="ProxyOptionsValidator"/>).</summary>
    public async Task<ReloadOutcome> ApplyAsync(ProxyOptions options, string trigger)
    {
        await _reloadGate.WaitAsync().ConfigureAwait(false);
        try
        {
            return await ApplyLockedAsync(options, trigger).ConfigureAwait(false);
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    /// <summary>Takes a backend out of service or back, between reloads (a reload copies the drain flags it finds).</summary>
    internal async Task<bool> SetDrainedAsync(string id, bool drained)
    {
        await _reloadGate.WaitAsync().ConfigureAwait(false);
        try
        {
            return _active.Current.SetDrained(id, drained);
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    private async Task<ReloadOutcome> ApplyLockedAsync(ProxyOptions options, string trigger)
    {
        List<string> problems = ProxyOptionsValidator.Validate(options);
        if (problems.Count > 0)
        {
            return Refused(trigger, problems);
        }

        // The token as read now: a file that became unreadable since validation must not turn the check off.
        AdminToken? token = AdminToken.From(options.Admin);
        if (token is null && (options.Admin.TokenFile is not null || options.Admin.TokenEnvironmentVariable is not null))
        {
            return Refused(trigger, ["Admin:TokenFile: the token could not be read again, expected a readable token; the running token stays"]);
        }

        ProxyGeneration previous = _generation;
        ProxyGeneration next = ProxyGeneration.Create(options, previous, _services);
        Volatile.Write(ref _generation, next);
        _active.Install(next.Forwarder);
        _adminToken = token;
        next.Start();
        if (_sharedState is not null)
        {
            // The shared health now follows the new generation's tracker (which took over the old one's state).
            await _sharedState.FollowAsync(next.Forwarder.Health.Tracker).ConfigureAwait(false);
        }

        await previous.StopProbingAsync().ConfigureAwait(false);
        Retire(previous, next);

        List<string> restart = ProxyOptionsJson.ChangedKeys(_startOptions, options, ProxyOptionsJson.RestartOnly);
        IReadOnlyList<Backends.Backend> before = previous.Forwarder.Backends;
        IReadOnlyList<Backends.Backend> after = next.Forwarder.Backends;
        string added = string.Join(", ", after.Except(before).Select(static b => b.Id));
        string removed = string.Join(", ", before.Except(after).Select(static b => b.Id));
        string summary = $"{after.Count} backends (added: {(added.Length == 0 ? "none" : added)}; removed: {(removed.Length == 0 ? "none" : removed)}), strategy {next.Forwarder.StrategyName}";
        _metrics.Reloaded(ProxyMetrics.ReloadApplied);
        Log.ConfigReloaded(_logger, trigger, summary);
        if (restart.Count > 0)
        {
            Log.ConfigNeedsRestart(_logger, trigger, string.Join(", ", restart));
        }

        return new ReloadOutcome(true, [], [.. restart], "applied: " + summary);
    }

    private ReloadOutcome Refused(string trigger, List<string> problems)
    {
        _metrics.Reloaded(ProxyMetrics.ReloadInvalid);
        foreach (string problem in problems)
        {
            Log.ConfigReloadRefused(_logger, trigger, problem);
        }

        return new ReloadOutcome(false, [.. problems.Select(static p => "config error: " + p)], [], $"refused ({problems.Count} problems); the running configuration stays");
    }

    /// <summary>Retires <paramref name="previous"/> once its requests finished, or after the drain timeout.</summary>
    private void Retire(ProxyGeneration previous, ProxyGeneration next)
    {
        Task retirement = RetireWhenDrainedAsync(previous, next);
        lock (_retiringGate)
        {
            _retiring.Add((previous, retirement));
        }
    }

    private async Task RetireWhenDrainedAsync(ProxyGeneration previous, ProxyGeneration next)
    {
        long started = _clock.Timestamp;
        var limit = TimeSpan.FromMilliseconds(next.Options.Drain.TimeoutMs);
        while (previous.Forwarder.Busy && _clock.Elapsed(started) < limit)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), _clock.Time).ConfigureAwait(false);
        }

        _active.Retire(previous.Forwarder);
        await previous.RetireAsync(next).ConfigureAwait(false);
        lock (_retiringGate)
        {
            _retiring.RemoveAll(r => ReferenceEquals(r.Generation, previous));
        }
    }

    /// <summary>At shutdown: the generation in force and any still draining give up everything they hold.</summary>
    private async Task RetireAllAsync()
    {
        (ProxyGeneration Generation, Task Retirement)[] retiring;
        lock (_retiringGate)
        {
            retiring = [.. _retiring];
        }

        foreach ((ProxyGeneration generation, _) in retiring)
        {
            await generation.RetireAsync(null).ConfigureAwait(false);
        }

        await _generation.RetireAsync(null).ConfigureAwait(false);
    }

    private ValueTask StopProbingAsync() => _generation.StopProbingAsync();

    private void StartReloadTriggers()
    {
        if (_handleSignals && !OperatingSystem.IsWindows())
        {
            // nginx's and HAProxy's habit: SIGHUP reloads (its default action would end the process).
            _hangUp = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                _ = ReloadAsync("SIGHUP");
            });
        }

        if (_handleSignals && OperatingSystem.IsLinux() && _telemetry.AccessLog is { } accessLog)
        {
            // logrotate's habit (nginx reopens its logs on SIGUSR1 too); 10 is SIGUSR1 on Linux, passed as a raw number.
            _reopenLog = PosixSignalRegistration.Create((PosixSignal)SigUsr1, context =>
            {
                context.Cancel = true;
                accessLog.Reopen();
            });
        }

        if (_startOptions.Reload.WatchFile)
        {
            WatchConfigFile();
        }
    }

    /// <summary>Reloads when <see cref="ConfigFile"/> changes (no-op without a file, or when already watching).</summary>
    internal void WatchConfigFile()
    {
        if (_watcher is null && ConfigFile is { } file)
        {
            string full = Path.GetFullPath(file);
            _watchQuiet = _clock.Time.CreateTimer(static state => _ = ((ProxyServer)state!).ReloadAsync("file change"), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _watcher = new FileSystemWatcher(Path.GetDirectoryName(full)!, Path.GetFileName(full))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName | NotifyFilters.CreationTime,
            };
            // Editors write a file in several steps (truncate, write, rename): reload once it has been quiet for 300 ms.
            FileSystemEventHandler changed = (_, _) => _watchQuiet.Change(TimeSpan.FromMilliseconds(300), Timeout.InfiniteTimeSpan);
            _watcher.Changed += changed;
            _watcher.Created += changed;
            _watcher.Renamed += (_, _) => _watchQuiet.Change(TimeSpan.FromMilliseconds(300), Timeout.InfiniteTimeSpan);
            _watcher.EnableRaisingEvents = true;
        }
    }

    private void StopReloadTriggers()
    {
        _hangUp?.Dispose();
        _reopenLog?.Dispose();
        _watcher?.Dispose();
        _watchQuiet?.Dispose();
    }
}
