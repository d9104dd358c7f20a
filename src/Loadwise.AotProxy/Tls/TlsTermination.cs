using Loadwise.AotProxy.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Loadwise.AotProxy.Tls;

/// <summary>
/// TLS termination for every https:// listener: Kestrel's TLS layer with the handshake chosen per connection by
/// <see cref="ListenerCertificates"/>, and certificate reload without a restart: a file watch (after 300 ms of quiet,
/// as editors and certbot write in steps) and <see cref="Reload"/>, which SIGHUP and <c>POST /admin/reload</c> call.
/// A reload changes only new handshakes: open connections keep theirs.
/// </summary>
/// <example><code>
/// var tls = TlsTermination.Create(options.Tls, () => logger, TimeProvider.System);
/// tls?.Apply(listenOptions, "https://0.0.0.0:8443");
/// tls?.Reload("SIGHUP");
/// </code></example>
internal sealed partial class TlsTermination : IDisposable
{
    private readonly Dictionary<string, ListenerCertificates> _listeners;
    private readonly Func<ILogger> _logger; // the host's, made after Kestrel's options
    private readonly Lock _reloadGate = new();
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly ITimer? _quiet;

    private TlsTermination(Dictionary<string, ListenerCertificates> listeners, bool watch, Func<ILogger> logger, TimeProvider time)
    {
        _listeners = listeners;
        _logger = logger;
        if (!watch)
        {
            return;
        }

        _quiet = time.CreateTimer(static state => ((TlsTermination)state!).Reload("file change"), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        // The folders are watched (certbot and Kubernetes replace files by rename), but only these files count: a log
        // written into the same folder must not reload, nor loop on its own failure line.
        var files = new HashSet<string>(listeners.Values.SelectMany(static l => l.Files).Select(static f => Path.GetFullPath(f)), StringComparer.Ordinal);
        foreach (string folder in files.Select(static f => Path.GetDirectoryName(f)!).Distinct(StringComparer.Ordinal))
        {
            var watcher = new FileSystemWatcher(folder)
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName | NotifyFilters.CreationTime,
            };
            FileSystemEventHandler changed = (_, e) =>
            {
                if (files.Contains(e.FullPath) || (e is RenamedEventArgs renamed && files.Contains(renamed.OldFullPath)))
                {
                    _quiet.Change(TimeSpan.FromMilliseconds(300), Timeout.InfiniteTimeSpan);
                }
            };
            watcher.Changed += changed;
            watcher.Created += changed;
            watcher.Renamed += (sender, e) => changed(sender, e);
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }
    }

    /// <summary>Loads the certificates of every https:// listener, or returns null when there is none.</summary>
    /// <exception cref="CertificateLoadException">A certificate did not load: the proxy does not start.</exception>
    public static TlsTermination? Create(TlsOptions options, Func<ILogger> logger, TimeProvider time)
    {
        if (options.Listeners.Count == 0)
        {
            return null;
        }

        var listeners = options.Listeners.ToDictionary(static l => l.Url!, static l => new ListenerCertificates(l), StringComparer.OrdinalIgnoreCase);
        return new TlsTermination(listeners, options.WatchFiles, logger, time);
    }

    /// <summary>Gets how many reloads ran (any trigger).</summary>
    public int Reloads { get; private set; }

    /// <summary>Gets the certificates of the listener at <paramref name="url"/> (as written in <c>Listen</c>).</summary>
    public ListenerCertificates this[string url] => _listeners[url];

    /// <summary>Puts TLS in front of the listener at <paramref name="url"/>: HTTP/1.1 and, by ALPN, HTTP/2.</summary>
    public void Apply(ListenOptions listener, string url)
    {
        ListenerCertificates certificates = _listeners[url];
        listener.Protocols = HttpProtocols.Http1AndHttp2;
        listener.UseHttps(new TlsHandshakeCallbackOptions
        {
            OnConnection = context => ValueTask.FromResult(certificates.Select(context.ClientHelloInfo.ServerName)),
            HandshakeTimeout = TimeSpan.FromSeconds(10),
        });
    }

    /// <summary>
    /// Loads every certificate file again; a certificate whose file does not load keeps the one in use, with one log
    /// line each. Safe to call from any thread.
    /// </summary>
    /// <param name="trigger">What asked for it, for the log.</param>
    /// <returns>How many certificates changed.</returns>
    public int Reload(string trigger)
    {
        lock (_reloadGate)
        {
            Reloads++;
            int changed = 0;
            var failures = new List<CertificateLoadException>();
            foreach (ListenerCertificates listener in _listeners.Values)
            {
                changed += listener.Reload(failures);
            }

            foreach (CertificateLoadException failure in failures)
            {
                CertificateKept(_logger(), trigger, failure.Message);
            }

            if (changed > 0)
            {
                CertificatesReloaded(_logger(), trigger, changed);
            }

            return changed;
        }
    }

    public void Dispose()
    {
        foreach (FileSystemWatcher watcher in _watchers)
        {
            watcher.Dispose();
        }

        _quiet?.Dispose();
    }

    [LoggerMessage(EventId = 60, Level = LogLevel.Information, Message = "TLS certificates reloaded ({Trigger}): {Changed} changed")]
    private static partial void CertificatesReloaded(ILogger logger, string trigger, int changed);

    [LoggerMessage(EventId = 61, Level = LogLevel.Error, Message = "TLS certificate reload ({Trigger}) kept the certificate in use: {Error}")]
    private static partial void CertificateKept(ILogger logger, string trigger, string error);
}
