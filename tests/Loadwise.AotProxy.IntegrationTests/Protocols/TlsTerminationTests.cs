using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Hosting;
using Loadwise.AotProxy.Tls;

namespace Loadwise.AotProxy.IntegrationTests.Protocols;

/// <summary>
/// TLS termination on https:// listeners: SNI (exact, wildcard, default), PEM and PFX, TLS 1.2 and 1.3, ALPN h2 and
/// http/1.1, X-Forwarded-Proto https, and certificate reload (SIGHUP's path and the file watch) that keeps open
/// connections and keeps the old certificate when the new file is bad. Certificates are made at run time.
/// </summary>
public sealed class TlsTerminationTests : IDisposable
{
    private const string HttpsListen = "https://127.0.0.1:0";
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Sni_serves_the_exact_name_then_a_wildcard_one_label_deep_then_the_default()
    {
        X509Certificate2 exact = _certificates.Issue("api.example.com");
        X509Certificate2 wildcard = _certificates.Issue("*.example.com");
        X509Certificate2 fallback = _certificates.Issue("default.test");
        await using TestProxy proxy = await StartAsync(
            Pem(exact, "exact", "api.example.com"), Pem(wildcard, "wildcard", "*.example.com"), Pem(fallback, "default"));
        int port = HttpsPort(proxy);

        Assert.Equal(exact.Thumbprint, await ThumbprintAsync(port, "api.example.com"));
        Assert.Equal(exact.Thumbprint, await ThumbprintAsync(port, "API.Example.COM"));
        Assert.Equal(wildcard.Thumbprint, await ThumbprintAsync(port, "www.example.com"));
        Assert.Equal(fallback.Thumbprint, await ThumbprintAsync(port, "a.b.example.com"));
        Assert.Equal(fallback.Thumbprint, await ThumbprintAsync(port, "example.com"));
        Assert.Equal(fallback.Thumbprint, await ThumbprintAsync(port, null));
    }

    [Fact]
    public async Task Without_a_default_certificate_a_name_no_certificate_lists_is_refused_and_a_listed_one_is_served()
    {
        X509Certificate2 only = _certificates.Issue("api.example.com");
        await using TestProxy proxy = await StartAsync(Pem(only, "only", "api.example.com"));
        int port = HttpsPort(proxy);

        await Assert.ThrowsAnyAsync<Exception>(() => TlsClient.ConnectAsync(port, "other.example.org"));
        Assert.Equal(only.Thumbprint, await ThumbprintAsync(port, "api.example.com"));
    }

    [Fact]
    public async Task An_https_request_is_forwarded_with_X_Forwarded_Proto_https_over_HTTP_1_1_and_HTTP_2()
    {
        X509Certificate2 certificate = _certificates.Issue("localhost");
        await using TestProxy proxy = await StartAsync(Pem(certificate, "site"));
        using var client = TrustingClient(proxy);

        foreach (Version version in new[] { HttpVersion.Version11, HttpVersion.Version20 })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/headers") { Version = version, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            using HttpResponseMessage response = await client.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(version, response.Version);
            Dictionary<string, string> seen = RawHttp.ParseHeaderEcho(await response.Content.ReadAsStringAsync(Ct));
            Assert.Equal("https", seen["X-Forwarded-Proto"]);
        }
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task Tls_1_2_and_1_3_are_served_and_alpn_chooses_h2_or_http_1_1(SslProtocols protocol)
    {
        X509Certificate2 certificate = _certificates.Issue("localhost");
        await using TestProxy proxy = await StartAsync(Pem(certificate, "site"));
        int port = HttpsPort(proxy);

        await using (TlsClient h2 = await TlsClient.ConnectAsync(port, "localhost", protocol, SslApplicationProtocol.Http2, SslApplicationProtocol.Http11))
        {
            Assert.Equal(protocol, h2.Stream.SslProtocol);
            Assert.Equal(SslApplicationProtocol.Http2, h2.Stream.NegotiatedApplicationProtocol);
        }

        await using TlsClient h1 = await TlsClient.ConnectAsync(port, "localhost", protocol, SslApplicationProtocol.Http11);
        Assert.Equal(SslApplicationProtocol.Http11, h1.Stream.NegotiatedApplicationProtocol);
        Assert.Contains("200 OK", await h1.GetAsync("/"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_Http2_off_alpn_offers_http_1_1_only()
    {
        X509Certificate2 certificate = _certificates.Issue("localhost");
        await using TestProxy proxy = await StartAsync(o => o.Tls.Listeners[0].Http2 = false, Pem(certificate, "site"));

        await using TlsClient client = await TlsClient.ConnectAsync(HttpsPort(proxy), "localhost", SslProtocols.None, SslApplicationProtocol.Http2, SslApplicationProtocol.Http11);
        Assert.Equal(SslApplicationProtocol.Http11, client.Stream.NegotiatedApplicationProtocol);
    }

    [Fact]
    public async Task A_pfx_with_a_password_file_is_served()
    {
        X509Certificate2 certificate = _certificates.Issue("localhost");
        string passwordFile = Path.Combine(_certificates.Folder, "pfx.password");
        await File.WriteAllTextAsync(passwordFile, "s3cret\n", Ct);
        var pfx = new CertificateOptions { PfxFile = _certificates.WritePfx(certificate, "site", "s3cret"), PfxPasswordFile = passwordFile };
        await using TestProxy proxy = await StartAsync(pfx);

        Assert.Equal(certificate.Thumbprint, await ThumbprintAsync(HttpsPort(proxy), "localhost"));
    }

    [Fact]
    public async Task A_reload_serves_the_new_certificate_to_new_connections_and_an_open_connection_keeps_working()
    {
        X509Certificate2 first = _certificates.Issue("localhost");
        CertificateOptions files = Pem(first, "site");
        await using TestProxy proxy = await StartAsync(o => o.Tls.WatchFiles = false, files);
        int port = HttpsPort(proxy);
        await using TlsClient open = await TlsClient.ConnectAsync(port, "localhost");
        Assert.Contains("200 OK", await open.GetAsync("/"), StringComparison.Ordinal);

        X509Certificate2 second = _certificates.Issue("localhost");
        _certificates.WritePem(second, "site");
        Assert.Equal(first.Thumbprint, await ThumbprintAsync(port, "localhost")); // no watch: nothing changed yet
        await proxy.Server.ReloadAsync("SIGHUP"); // what SIGHUP and POST /admin/reload run

        Assert.Equal(second.Thumbprint, await ThumbprintAsync(port, "localhost"));
        Assert.Equal(first.Thumbprint, open.Thumbprint);
        Assert.Contains("200 OK", await open.GetAsync("/"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_changed_certificate_file_is_picked_up_by_the_file_watch()
    {
        X509Certificate2 first = _certificates.Issue("localhost");
        await using TestProxy proxy = await StartAsync(Pem(first, "site"));
        int port = HttpsPort(proxy);

        X509Certificate2 second = _certificates.Issue("localhost");
        _certificates.WritePem(second, "site");
        string? served = null;
        for (int i = 0; i < 100 && served != second.Thumbprint; i++)
        {
            await Task.Delay(100, Ct);
            served = await ThumbprintAsync(port, "localhost");
        }

        Assert.Equal(second.Thumbprint, served);
    }

    [Fact]
    public async Task Other_files_in_the_certificate_folder_do_not_reload()
    {
        // A log written next to the certificates must not reload them (nor loop on the reload's own log line).
        X509Certificate2 certificate = _certificates.Issue("localhost");
        await using TestProxy proxy = await StartAsync(Pem(certificate, "site"));
        for (int i = 0; i < 5; i++)
        {
            await File.AppendAllTextAsync(Path.Combine(_certificates.Folder, "proxy.log"), "a line\n", Ct);
            await Task.Delay(100, Ct);
        }

        await Task.Delay(700, Ct);
        Assert.Equal(0, proxy.Server.Tls!.Reloads);

        File.SetLastWriteTimeUtc(Pem(certificate, "site").KeyFile!, DateTime.UtcNow);
        for (int i = 0; i < 50 && proxy.Server.Tls.Reloads == 0; i++)
        {
            await Task.Delay(100, Ct);
        }

        Assert.NotEqual(0, proxy.Server.Tls.Reloads);
    }

    [Fact]
    public async Task A_bad_certificate_file_keeps_the_certificate_in_use()
    {
        X509Certificate2 first = _certificates.Issue("localhost");
        CertificateOptions files = Pem(first, "site");
        await using TestProxy proxy = await StartAsync(o => o.Tls.WatchFiles = false, files);
        int port = HttpsPort(proxy);

        await File.WriteAllTextAsync(files.CertificateFile!, "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n", Ct);
        Assert.Equal(0, proxy.Server.Tls!.Reload("test"));
        Assert.Equal(first.Thumbprint, await ThumbprintAsync(port, "localhost"));

        // A good file afterwards is taken: the bad one left nothing behind.
        X509Certificate2 second = _certificates.Issue("localhost");
        _certificates.WritePem(second, "site");
        Assert.Equal(1, proxy.Server.Tls.Reload("test"));
        Assert.Equal(second.Thumbprint, await ThumbprintAsync(port, "localhost"));
    }

    [Fact]
    public void A_certificate_that_does_not_load_stops_the_start_and_names_its_file()
    {
        X509Certificate2 certificate = _certificates.Issue("localhost");
        CertificateOptions files = Pem(certificate, "site");
        File.WriteAllText(files.KeyFile!, "garbage");
        var options = new ProxyOptions();
        options.Listen.Add(HttpsListen);
        options.Backends.Add(new BackendOptions { Id = "b1", Url = "http://127.0.0.1:9" });
        var listener = new TlsListenerOptions { Url = HttpsListen };
        listener.Certificates.Add(files);
        options.Tls.Listeners.Add(listener);
        Assert.Empty(ProxyOptionsValidator.Validate(options));

        CertificateLoadException e = Assert.Throws<CertificateLoadException>(() => ProxyServer.Create(options, handleSignals: false, consoleLogging: false));
        Assert.Contains(files.CertificateFile!, e.Message, StringComparison.Ordinal);
    }

    private CertificateOptions Pem(X509Certificate2 certificate, string name, params string[] hosts)
    {
        (string certificateFile, string keyFile) = _certificates.WritePem(certificate, name);
        var options = new CertificateOptions { CertificateFile = certificateFile, KeyFile = keyFile };
        options.Hosts.AddRange(hosts);
        return options;
    }

    private static Task<TestProxy> StartAsync(params CertificateOptions[] certificates) => StartAsync(null, certificates);

    private static Task<TestProxy> StartAsync(Action<ProxyOptions>? configure, params CertificateOptions[] certificates) =>
        TestProxy.StartAsync(
            options =>
            {
                options.Listen.Add(HttpsListen);
                var listener = new TlsListenerOptions { Url = HttpsListen };
                listener.Certificates.AddRange(certificates);
                options.Tls.Listeners.Add(listener);
                configure?.Invoke(options);
            },
            backendCount: 1);

    private static int HttpsPort(TestProxy proxy) => new Uri(proxy.Server.Urls.Single(u => u.StartsWith("https://", StringComparison.Ordinal))).Port;

    private static async Task<string> ThumbprintAsync(int port, string? serverName)
    {
        await using TlsClient client = await TlsClient.ConnectAsync(port, serverName);
        return client.Thumbprint;
    }

    private HttpClient TrustingClient(TestProxy proxy)
    {
        SocketsHttpHandler handler = TestProxy.NewHandler();
        handler.SslOptions = new SslClientAuthenticationOptions
        {
            CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck, CustomTrustStore = { _certificates.Ca } },
        };
        return new HttpClient(handler) { BaseAddress = new Uri(proxy.Server.Urls.Single(u => u.StartsWith("https://", StringComparison.Ordinal)).Replace("127.0.0.1", "localhost", StringComparison.Ordinal)) };
    }
}
