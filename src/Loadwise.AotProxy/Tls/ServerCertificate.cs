using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.Tls;

/// <summary>
/// One loaded certificate, ready to serve: the handshake options (certificate context with its intermediates, TLS 1.2
/// and 1.3, ALPN) built once, so a handshake neither reads files nor builds a chain.
/// </summary>
/// <example><code>
/// ServerCertificate loaded = ServerCertificate.Load(options.Tls.Listeners[0].Certificates[0], http2: true);
/// SslServerAuthenticationOptions handshake = loaded.Handshake;
/// </code></example>
internal sealed class ServerCertificate
{
    /// <summary>TLS 1.2 and 1.3 only: 1.0 and 1.1 are deprecated (RFC 8996), as in nginx's and HAProxy's defaults since 2021.</summary>
    internal const System.Security.Authentication.SslProtocols Protocols =
        System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;

    private ServerCertificate(X509Certificate2 leaf, X509Certificate2Collection intermediates, bool http2)
    {
        Leaf = leaf;
        Handshake = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(leaf, intermediates, offline: true),
            EnabledSslProtocols = Protocols,
            ClientCertificateRequired = false,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            // RFC 9113 section 3.2: h2 is chosen by ALPN; h2 first, as clients take the server's order into account.
            ApplicationProtocols = http2 ? [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11] : [SslApplicationProtocol.Http11],
            AllowRenegotiation = false, // RFC 9113 section 9.2.1 forbids it on HTTP/2, and HTTP/1.1 has no need of it
        };
    }

    /// <summary>Gets the certificate itself (its thumbprint tells a reload whether it changed).</summary>
    public X509Certificate2 Leaf { get; }

    /// <summary>Gets the handshake options that serve it.</summary>
    public SslServerAuthenticationOptions Handshake { get; }

    /// <summary>Loads a certificate and its key from PEM or PFX files.</summary>
    /// <exception cref="CertificateLoadException">A file is missing or unreadable, or the key is missing or does not match.</exception>
    public static ServerCertificate Load(CertificateOptions options, bool http2)
    {
        string file = options.PfxFile ?? options.CertificateFile ?? "(none)";
        try
        {
            return options.PfxFile is { } pfx ? LoadPfx(pfx, Password(options), http2) : LoadPem(options.CertificateFile!, options.KeyFile!, http2);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new CertificateLoadException(file, e.Message, e);
        }
    }

    private static ServerCertificate LoadPem(string certificateFile, string keyFile, bool http2)
    {
        X509Certificate2 leaf = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPemFile(certificateFile);
        var intermediates = new X509Certificate2Collection();
        for (int i = 1; i < chain.Count; i++)
        {
            intermediates.Add(chain[i]);
        }

        return new ServerCertificate(leaf, intermediates, http2);
    }

    private static ServerCertificate LoadPfx(string file, string? password, bool http2)
    {
        X509Certificate2Collection all = X509CertificateLoader.LoadPkcs12CollectionFromFile(file, password, X509KeyStorageFlags.EphemeralKeySet);
        X509Certificate2? leaf = null;
        var intermediates = new X509Certificate2Collection();
        foreach (X509Certificate2 certificate in all)
        {
            if (leaf is null && certificate.HasPrivateKey)
            {
                leaf = certificate;
            }
            else
            {
                intermediates.Add(certificate);
            }
        }

        return leaf is null
            ? throw new CertificateLoadException(file, "the PFX holds no certificate with a private key", null)
            : new ServerCertificate(leaf, intermediates, http2);
    }

    private static string? Password(CertificateOptions options) =>
        options.PfxPasswordFile is { } file ? File.ReadAllText(file).Trim()
        : options.PfxPasswordEnvironmentVariable is { } variable ? Environment.GetEnvironmentVariable(variable)
        : null;
}

/// <summary>A certificate that could not be loaded: which file, and why.</summary>
/// <example><code>catch (CertificateLoadException e) { Console.Error.WriteLine($"{e.File}: {e.Message}"); }</code></example>
internal sealed class CertificateLoadException(string file, string reason, Exception? inner) : Exception($"certificate {file}: {reason}", inner)
{
    /// <summary>Gets the file that did not load.</summary>
    public string File { get; } = file;
}
