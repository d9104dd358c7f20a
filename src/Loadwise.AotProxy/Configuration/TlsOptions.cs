namespace Loadwise.AotProxy.Configuration;

/// <summary>
/// TLS termination: the certificates of each <c>https://</c> listener. TLS 1.2 and 1.3 only; ALPN offers <c>h2</c>
/// and <c>http/1.1</c>. A changed certificate or key file is picked up without a restart (file watch, SIGHUP,
/// <c>POST /admin/reload</c>); a file that does not load keeps the certificate in use.
/// </summary>
/// <example><code>
/// "Tls": { "Listeners": [ { "Url": "https://0.0.0.0:8443", "Certificates": [ { "CertificateFile": "site.pem", "KeyFile": "site.key" } ] } ] }
/// </code></example>
internal sealed class TlsOptions
{
    /// <summary>Gets the certificates of each https:// URL in <c>Listen</c> (one entry per such URL).</summary>
    public List<TlsListenerOptions> Listeners { get; } = [];

    /// <summary>Gets or sets whether a change to a certificate or key file reloads it (checked after 300 ms of quiet).</summary>
    public bool WatchFiles { get; set; } = true;
}

/// <summary>The certificates one https:// listener serves, chosen by the name the client asks for (SNI).</summary>
/// <example><code>
/// { "Url": "https://0.0.0.0:8443", "Certificates": [ { "Hosts": [ "*.example.com" ], "PfxFile": "wild.pfx" }, { "CertificateFile": "default.pem", "KeyFile": "default.key" } ] }
/// </code></example>
internal sealed class TlsListenerOptions
{
    /// <summary>Gets or sets the listen URL, exactly as it is written in <c>Listen</c>.</summary>
    public string? Url { get; set; }

    /// <summary>
    /// Gets the certificates. Each names the hosts it serves (<c>example.com</c>, or <c>*.example.com</c> for one label
    /// below it); the one without <c>Hosts</c> is the default, served to a client that sends no name or a name no
    /// certificate lists. Without a default such a client's handshake is refused.
    /// </summary>
    public List<CertificateOptions> Certificates { get; } = [];

    /// <summary>Gets or sets whether ALPN offers <c>h2</c> besides <c>http/1.1</c> (HTTP/2 to clients that want it).</summary>
    public bool Http2 { get; set; } = true;
}

/// <summary>One certificate with its private key: PEM files (certificate chain and key) or a PFX (PKCS #12) file.</summary>
/// <example><code>
/// { "Hosts": [ "example.com", "*.example.com" ], "CertificateFile": "/etc/loadwise/fullchain.pem", "KeyFile": "/etc/loadwise/privkey.pem" }
/// </code></example>
internal sealed class CertificateOptions
{
    /// <summary>Gets the host names this certificate is served for (exact, or <c>*.</c> plus a domain); empty = the default.</summary>
    public List<string> Hosts { get; } = [];

    /// <summary>Gets or sets a PEM file: the certificate first, then any intermediates (as in a <c>fullchain.pem</c>).</summary>
    public string? CertificateFile { get; set; }

    /// <summary>Gets or sets the PEM file of the private key (PKCS #8, RSA or EC; unencrypted).</summary>
    public string? KeyFile { get; set; }

    /// <summary>Gets or sets a PFX (PKCS #12) file with the certificate, its key and any intermediates (instead of PEM files).</summary>
    public string? PfxFile { get; set; }

    /// <summary>Gets or sets a file whose content (trimmed) is the PFX password.</summary>
    public string? PfxPasswordFile { get; set; }

    /// <summary>Gets or sets the name of an environment variable that holds the PFX password (instead of a file).</summary>
    public string? PfxPasswordEnvironmentVariable { get; set; }
}

/// <summary>How the proxy checks the certificates of its https:// backends.</summary>
/// <example><code>
/// "BackendTls": { "CaBundleFile": "/etc/loadwise/internal-ca.pem" }
/// </code></example>
internal sealed class BackendTlsOptions
{
    /// <summary>
    /// Gets or sets a PEM file of the CA certificates that backends' certificates must chain to, instead of the
    /// system's trust store (an internal CA). The backend's name must still match its certificate.
    /// </summary>
    public string? CaBundleFile { get; set; }

    /// <summary>
    /// Gets or sets whether ANY backend certificate is accepted, unchecked: expired, self-signed, for another name.
    /// Anyone on the path to a backend can then read and change its traffic. For a lab only; logged at start.
    /// </summary>
    public bool DangerouslyAcceptAnyServerCertificate { get; set; }
}
