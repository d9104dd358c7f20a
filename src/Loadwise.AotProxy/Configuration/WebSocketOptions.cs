namespace Loadwise.AotProxy.Configuration;

/// <summary>
/// WebSocket (HTTP/1.1 <c>Upgrade: websocket</c>): the upgrade request is forwarded with its upgrade headers, the
/// backend's 101 relayed, and the two connections spliced both ways until either side closes.
/// </summary>
/// <example><code>
/// "WebSocket": { "IdleTimeoutMs": 300000 }
/// </code></example>
internal sealed class WebSocketOptions
{
    /// <summary>Gets or sets whether upgrade requests are forwarded as upgrades (off: the Upgrade header is dropped, as for any hop-by-hop header).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Gets or sets how long an upgraded connection may carry no byte in either direction before the proxy closes
    /// both sides (nginx's proxy_read_timeout, HAProxy's timeout tunnel); 0 = no limit. Ping frames count as bytes.
    /// </summary>
    public int IdleTimeoutMs { get; set; } = 300_000;
}
