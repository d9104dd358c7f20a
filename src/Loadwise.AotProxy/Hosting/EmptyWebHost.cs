namespace Loadwise.AotProxy.Hosting;

/// <summary>Creates the web host builder every Kestrel host in this process starts from.</summary>
internal static class EmptyWebHost
{
    /// <summary>
    /// Returns an empty builder with Kestrel's core: no configuration sources, no logging providers, no file watching.
    /// Not the slim builder: the proxy reads only its own configuration, so the host must not pick up appsettings.json or
    /// environment overrides from the working directory, nor watch that directory (reload-on-change puts an inotify watch
    /// on every folder below it, which slows the start, and walks the whole disk when started from /).
    /// </summary>
    /// <example><code>
    /// WebApplicationBuilder builder = EmptyWebHost.CreateBuilder();
    /// builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenLocalhost(8080));
    /// </code></example>
    public static WebApplicationBuilder CreateBuilder()
    {
        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(
            new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseKestrelCore();
        return builder;
    }
}
