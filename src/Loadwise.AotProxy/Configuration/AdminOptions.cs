namespace Loadwise.AotProxy.Configuration;

/// <summary>The admin listener: the scrape, the admin API and the status page, on a port of their own.</summary>
internal sealed class AdminOptions
{
    /// <summary>
    /// Gets or sets the admin listener's URL (e.g. <c>http://127.0.0.1:9100</c>). When set, the scrape, the admin API
    /// (<c>/admin/...</c>) and the status page (<c>/admin/</c>) are served there and only there; when not, the API and
    /// page are off and the scrape is served on the proxy's own port.
    /// </summary>
    public string? Listen { get; set; }

    /// <summary>
    /// Gets or sets a file whose content (trimmed) is the bearer token the admin API and page require
    /// (<c>Authorization: Bearer &lt;token&gt;</c>); read at start and on reload. Null: no token.
    /// </summary>
    public string? TokenFile { get; set; }

    /// <summary>Gets or sets the name of an environment variable that holds the bearer token (instead of a file).</summary>
    public string? TokenEnvironmentVariable { get; set; }
}

/// <summary>Configuration reload: SIGHUP and <c>POST /admin/reload</c> always reload; a file watch is opt-in.</summary>
internal sealed class ReloadOptions
{
    /// <summary>Gets or sets whether a change to the configuration file reloads it (checked after 300 ms of quiet).</summary>
    public bool WatchFile { get; set; }
}
