namespace Loadwise.AotProxy.Configuration;

/// <summary>
/// HTTP/2 to clients: over TLS it is chosen by ALPN (see <see cref="TlsListenerOptions.Http2"/>); in cleartext (h2c) a
/// listener speaks it only when listed in <see cref="CleartextListen"/>, by prior knowledge. Kestrel's HTTP/2 limits
/// apply to every listener; the defaults are Kestrel's.
/// </summary>
/// <example><code>
/// "Http2": { "CleartextListen": [ "http://0.0.0.0:8081" ], "MaxStreamsPerConnection": 256 }
/// </code></example>
internal sealed class Http2Options
{
    /// <summary>
    /// Gets the http:// URLs of <c>Listen</c> that take HTTP/2 with prior knowledge besides HTTP/1.1 (Kestrel tells
    /// them apart by the connection preface). The HTTP/1.1 <c>Upgrade: h2c</c> dance is not supported.
    /// </summary>
    public List<string> CleartextListen { get; } = [];

    /// <summary>Gets or sets the concurrent streams one client connection may open (SETTINGS_MAX_CONCURRENT_STREAMS).</summary>
    public int MaxStreamsPerConnection { get; set; } = 100;

    /// <summary>Gets or sets the largest frame payload the proxy accepts, from 16,384 to 16,777,215 bytes (SETTINGS_MAX_FRAME_SIZE).</summary>
    public int MaxFrameSize { get; set; } = 16_384;

    /// <summary>Gets or sets the HPACK dynamic table size the proxy offers the client's encoder (SETTINGS_HEADER_TABLE_SIZE).</summary>
    public int HeaderTableSize { get; set; } = 4_096;

    /// <summary>Gets or sets the largest decoded header field (name and value) the proxy accepts.</summary>
    public int MaxRequestHeaderFieldSize { get; set; } = 32 * 1024;

    /// <summary>Gets or sets the request-body bytes one connection may have buffered across its streams (flow control).</summary>
    public int InitialConnectionWindowSize { get; set; } = 1024 * 1024;

    /// <summary>Gets or sets the request-body bytes one stream may have buffered (flow control).</summary>
    public int InitialStreamWindowSize { get; set; } = 768 * 1024;
}
