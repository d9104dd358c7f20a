using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Loadwise.AotProxy.Upstream;

/// <summary>
/// How https:// backends' certificates are checked: the system's trust store (the default), a CA bundle of the
/// operator's instead, or, only when asked for by its long name, not at all.
/// </summary>
/// <param name="CaBundleFile">A PEM file of the CA certificates backends must chain to, or null for the system's store.</param>
/// <param name="AcceptAnyCertificate">Whether any certificate is accepted unchecked (a lab only).</param>
/// <example><code>
/// var trust = new BackendTrust("/etc/loadwise/internal-ca.pem", AcceptAnyCertificate: false);
/// handler.SslOptions = trust.ClientOptions();
/// </code></example>
internal sealed record BackendTrust(string? CaBundleFile, bool AcceptAnyCertificate)
{
    /// <summary>Gets the default: the system's trust store, names checked.</summary>
    public static BackendTrust SystemStore { get; } = new(null, false);

    /// <summary>Gets the TLS client options HttpClient connects to backends with.</summary>
    public SslClientAuthenticationOptions ClientOptions()
    {
        var options = new SslClientAuthenticationOptions
        {
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        };
        if (AcceptAnyCertificate)
        {
            options.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        }
        else if (CaBundleFile is { } file)
        {
            // Chains must end at one of these roots (not the system's); the host name is still checked by SslStream.
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(file);
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(roots);
            options.CertificateChainPolicy = policy;
        }

        return options;
    }
}
