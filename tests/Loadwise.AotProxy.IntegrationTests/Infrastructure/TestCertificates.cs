using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>Certificates made at run time (never committed): a test CA and leaf certificates it signs, as PEM or PFX files.</summary>
internal sealed class TestCertificates : IDisposable
{
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public TestCertificates()
    {
        Folder = Directory.CreateTempSubdirectory("loadwise-tls-").FullName;
        var request = new CertificateRequest("CN=Loadwise Test CA", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        CaFile = Path.Combine(Folder, "ca.pem");
        File.WriteAllText(CaFile, Ca.ExportCertificatePem());
    }

    public string Folder { get; }

    public X509Certificate2 Ca { get; }

    public string CaFile { get; }

    /// <summary>Issues a leaf certificate for <paramref name="names"/> (DNS names; 127.0.0.1 is added as an IP name).</summary>
    public X509Certificate2 Issue(params string[] names)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (string name in names)
        {
            san.AddDnsName(name);
        }

        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        byte[] serial = RandomNumberGenerator.GetBytes(12);
        using X509Certificate2 issued = request.Create(Ca.SubjectName, X509SignatureGenerator.CreateForECDsa(_caKey), DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(7), serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>Writes <paramref name="certificate"/> as <c>name.pem</c> (with the CA after it, as a full chain) and <c>name.key</c>.</summary>
    public (string Certificate, string Key) WritePem(X509Certificate2 certificate, string name)
    {
        string certificateFile = Path.Combine(Folder, name + ".pem");
        string keyFile = Path.Combine(Folder, name + ".key");
        File.WriteAllText(certificateFile, certificate.ExportCertificatePem() + "\n" + Ca.ExportCertificatePem());
        File.WriteAllText(keyFile, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return (certificateFile, keyFile);
    }

    /// <summary>Writes <paramref name="certificate"/> as a PFX with <paramref name="password"/>.</summary>
    public string WritePfx(X509Certificate2 certificate, string name, string password)
    {
        string file = Path.Combine(Folder, name + ".pfx");
        File.WriteAllBytes(file, certificate.Export(X509ContentType.Pfx, password));
        return file;
    }

    public void Dispose()
    {
        _caKey.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}

/// <summary>One TLS client connection made by hand: the server name sent, the certificate and protocol got back.</summary>
internal sealed class TlsClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;

    private TlsClient(TcpClient tcp, SslStream stream)
    {
        _tcp = tcp;
        Stream = stream;
    }

    public SslStream Stream { get; }

    public string Thumbprint => ((X509Certificate2)Stream.RemoteCertificate!).Thumbprint;

    public static async Task<TlsClient> ConnectAsync(int port, string? serverName, SslProtocols protocols = SslProtocols.None, params SslApplicationProtocol[] alpn)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port, TestContext.Current.CancellationToken);
        var stream = new SslStream(tcp.GetStream());
        try
        {
            await stream.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = serverName ?? string.Empty,
                    EnabledSslProtocols = protocols,
                    ApplicationProtocols = alpn.Length == 0 ? null : [.. alpn],
                    RemoteCertificateValidationCallback = static (_, _, _, _) => true, // the test reads what it got
                },
                TestContext.Current.CancellationToken);
        }
        catch
        {
            await stream.DisposeAsync();
            tcp.Dispose();
            throw;
        }

        return new TlsClient(tcp, stream);
    }

    /// <summary>Sends one HTTP/1.1 GET on this connection and returns the response (head and body, Content-Length framed).</summary>
    public async Task<string> GetAsync(string path, string host = "example.com")
    {
        await Stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"), TestContext.Current.CancellationToken);
        var text = new StringBuilder();
        byte[] buffer = new byte[8192];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (true)
        {
            int read = await Stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                return text.ToString();
            }

            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
            string all = text.ToString();
            int end = all.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            int lengthAt = all.IndexOf("Content-Length: ", StringComparison.OrdinalIgnoreCase);
            if (end > 0 && lengthAt > 0 && lengthAt < end)
            {
                int lineEnd = all.IndexOf("\r\n", lengthAt, StringComparison.Ordinal);
                int length = int.Parse(all.AsSpan(lengthAt + 16, lineEnd - lengthAt - 16), System.Globalization.CultureInfo.InvariantCulture);
                if (all.Length >= end + 4 + length)
                {
                    return all;
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync();
        _tcp.Dispose();
    }
}
