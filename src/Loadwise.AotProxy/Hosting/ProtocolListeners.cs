using Loadwise.AotProxy.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Loadwise.AotProxy.Hosting;

/// <summary>The HTTP versions a listener speaks, and Kestrel's HTTP/2 limits, from <see cref="Http2Options"/>.</summary>
/// <example><code>
/// ProtocolListeners.ConfigureHttp2Limits(kestrel.Limits.Http2, options.Http2);
/// bool h2c = ProtocolListeners.ConfigureCleartext(listener, "http://0.0.0.0:8081", options.Http2);
/// </code></example>
internal static class ProtocolListeners
{
    /// <summary>Copies the configured HTTP/2 limits onto Kestrel's.</summary>
    public static void ConfigureHttp2Limits(Http2Limits limits, Http2Options options)
    {
        limits.MaxStreamsPerConnection = options.MaxStreamsPerConnection;
        limits.MaxFrameSize = options.MaxFrameSize;
        limits.HeaderTableSize = options.HeaderTableSize;
        limits.MaxRequestHeaderFieldSize = options.MaxRequestHeaderFieldSize;
        limits.InitialConnectionWindowSize = options.InitialConnectionWindowSize;
        limits.InitialStreamWindowSize = options.InitialStreamWindowSize;
    }

    /// <summary>
    /// Sets a cleartext listener's protocols: HTTP/1.1, or HTTP/2 with prior knowledge (RFC 9113 section 3.3) when it
    /// is listed in <see cref="Http2Options.CleartextListen"/>.
    /// </summary>
    /// <returns>Whether the listener speaks h2c (then the HTTP/1.1 fast path stays out of it).</returns>
    public static bool ConfigureCleartext(ListenOptions listener, string url, Http2Options options)
    {
        bool h2c = options.CleartextListen.Contains(url, StringComparer.OrdinalIgnoreCase);
        listener.Protocols = h2c ? HttpProtocols.Http2 : HttpProtocols.Http1;
        return h2c;
    }
}
