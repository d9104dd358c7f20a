using System.Globalization;

namespace Loadwise.AotProxy.Configuration;

/// <summary>
/// Checks the protocol keys (<c>Tls</c>, <c>BackendTls</c>, <c>Http2</c>), in the form of
/// <see cref="ProxyOptionsValidator"/>: <c>Key:Path: got 'value', expected what-is-allowed</c>. Files are checked for
/// existence here; whether they hold a usable certificate is checked when the proxy loads them.
/// </summary>
/// <example><code>
/// var problems = new List&lt;string&gt;();
/// ProtocolOptionsValidator.Validate(options, problems);
/// </code></example>
internal static class ProtocolOptionsValidator
{
    private const string Missing = "(missing)";

    public static void Validate(ProxyOptions options, List<string> problems)
    {
        var httpsListen = options.Listen.Where(static l => l is not null && l.StartsWith("https://", StringComparison.OrdinalIgnoreCase)).ToList();
        var covered = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < options.Tls.Listeners.Count; i++)
        {
            TlsListenerOptions listener = options.Tls.Listeners[i];
            string path = $"Tls:Listeners:{i}";
            if (listener.Url is null || !httpsListen.Contains(listener.Url, StringComparer.OrdinalIgnoreCase))
            {
                problems.Add($"{path}:Url: got '{listener.Url ?? Missing}', expected one of the https:// URLs in Listen ({(httpsListen.Count == 0 ? "there is none" : string.Join(", ", httpsListen))})");
            }
            else if (!covered.Add(listener.Url))
            {
                problems.Add($"{path}:Url: got '{listener.Url}', expected a URL no other entry of Tls:Listeners names");
            }

            ValidateCertificates(listener, path, problems);
        }

        foreach (string url in httpsListen.Where(u => !covered.Contains(u)))
        {
            problems.Add($"Tls:Listeners: got no entry for '{url}', expected one with \"Url\": \"{url}\" and its Certificates (an https:// listener needs a certificate)");
        }

        if (options.BackendTls.CaBundleFile is { } bundle && !File.Exists(bundle))
        {
            problems.Add($"BackendTls:CaBundleFile: got '{bundle}', expected a readable PEM file of CA certificates (no such file)");
        }

        ValidateHttp2(options, problems);
        Range(problems, "WebSocket:IdleTimeoutMs", options.WebSocket.IdleTimeoutMs, 0, 86_400_000);
    }

    private static void ValidateCertificates(TlsListenerOptions listener, string path, List<string> problems)
    {
        if (listener.Certificates.Count == 0)
        {
            problems.Add($"{path}:Certificates: got '{Missing}', expected at least one certificate (CertificateFile and KeyFile, or PfxFile)");
        }

        int defaults = 0;
        for (int c = 0; c < listener.Certificates.Count; c++)
        {
            CertificateOptions certificate = listener.Certificates[c];
            string at = $"{path}:Certificates:{c}";
            bool pem = certificate.CertificateFile is not null || certificate.KeyFile is not null;
            if (pem == (certificate.PfxFile is not null))
            {
                problems.Add($"{at}: got {(pem ? "both PEM and PFX files" : "no file")}, expected CertificateFile and KeyFile (PEM), or PfxFile");
            }
            else if (pem)
            {
                RequireFile(problems, $"{at}:CertificateFile", certificate.CertificateFile, "a PEM file with the certificate, then its intermediates");
                RequireFile(problems, $"{at}:KeyFile", certificate.KeyFile, "a PEM file with the private key");
            }
            else
            {
                RequireFile(problems, $"{at}:PfxFile", certificate.PfxFile, "a PFX (PKCS #12) file");
                if (certificate.PfxPasswordFile is not null)
                {
                    RequireFile(problems, $"{at}:PfxPasswordFile", certificate.PfxPasswordFile, "a file with the PFX password");
                }
            }

            defaults += certificate.Hosts.Count == 0 ? 1 : 0;
            for (int h = 0; h < certificate.Hosts.Count; h++)
            {
                string? host = certificate.Hosts[h];
                if (!IsHostPattern(host))
                {
                    problems.Add($"{at}:Hosts:{h}: got '{host ?? Missing}', expected a host name such as example.com, or *.example.com for the names one label below it");
                }
            }
        }

        if (defaults > 1)
        {
            problems.Add($"{path}:Certificates: got {defaults.ToString(CultureInfo.InvariantCulture)} certificates without Hosts, expected at most one (the default, for clients that send no name or an unlisted one)");
        }
    }

    private static void ValidateHttp2(ProxyOptions options, List<string> problems)
    {
        Http2Options http2 = options.Http2;
        for (int i = 0; i < http2.CleartextListen.Count; i++)
        {
            string? url = http2.CleartextListen[i];
            if (url is null || !url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || !options.Listen.Contains(url, StringComparer.OrdinalIgnoreCase))
            {
                problems.Add($"Http2:CleartextListen:{i}: got '{url ?? Missing}', expected one of the http:// URLs in Listen (HTTP/2 over TLS needs no entry: ALPN chooses it)");
            }
        }

        Range(problems, "Http2:MaxStreamsPerConnection", http2.MaxStreamsPerConnection, 1, 100_000);
        Range(problems, "Http2:MaxFrameSize", http2.MaxFrameSize, 16_384, 16_777_215);
        Range(problems, "Http2:HeaderTableSize", http2.HeaderTableSize, 0, 1 << 20);
        Range(problems, "Http2:MaxRequestHeaderFieldSize", http2.MaxRequestHeaderFieldSize, 1_024, 1 << 20);
        Range(problems, "Http2:InitialConnectionWindowSize", http2.InitialConnectionWindowSize, 65_535, int.MaxValue);
        Range(problems, "Http2:InitialStreamWindowSize", http2.InitialStreamWindowSize, 65_535, int.MaxValue);
        if (http2.InitialStreamWindowSize > http2.InitialConnectionWindowSize)
        {
            problems.Add($"Http2:InitialStreamWindowSize: got '{http2.InitialStreamWindowSize.ToString(CultureInfo.InvariantCulture)}', expected at most Http2:InitialConnectionWindowSize ({http2.InitialConnectionWindowSize.ToString(CultureInfo.InvariantCulture)})");
        }
    }

    private static void RequireFile(List<string> problems, string path, string? file, string what)
    {
        if (file is null || !File.Exists(file))
        {
            problems.Add($"{path}: got '{file ?? Missing}', expected {what} (no such file)");
        }
    }

    // A DNS name (letters, digits, hyphens, dots), optionally "*." in front: one wildcard, whole leftmost label only.
    private static bool IsHostPattern(string? host)
    {
        if (string.IsNullOrEmpty(host) || host.Length > 253)
        {
            return false;
        }

        string name = host.StartsWith("*.", StringComparison.Ordinal) ? host[2..] : host;
        return name.Length > 0 && !name.StartsWith('.') && !name.EndsWith('.') && !name.Contains("..", StringComparison.Ordinal)
            && !name.AsSpan().ContainsAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.");
    }

    private static void Range(List<string> problems, string path, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            string allowed = max == int.MaxValue ? $"an integer >= {min}" : $"an integer from {min} to {max}";
            problems.Add($"{path}: got '{value.ToString(CultureInfo.InvariantCulture)}', expected {allowed}");
        }
    }
}
