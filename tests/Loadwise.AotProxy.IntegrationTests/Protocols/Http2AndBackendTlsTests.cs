using System.Net;
using System.Security.Cryptography.X509Certificates;
using Loadwise.AotProxy.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Loadwise.AotProxy.IntegrationTests.Protocols;

/// <summary>
/// HTTP/2 both ways (h2c prior knowledge on a listed listener, HTTP/2 to a backend marked Http2, over h2c or TLS) and
/// the checks on https backends' certificates: verified by default, against a CA bundle, or not at all when asked by
/// the long name.
/// </summary>
public sealed class Http2AndBackendTlsTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_listener_in_Http2_CleartextListen_serves_h2c_with_prior_knowledge()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Http2.CleartextListen.Add("http://127.0.0.1:0"), backendCount: 1);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using HttpResponseMessage response = await proxy.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal(proxy.Backends[0].Name, (await response.Content.ReadAsStringAsync(Ct)).Trim());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_backend_marked_Http2_is_reached_over_HTTP_2_h2c_or_tls(bool tls)
    {
        X509Certificate2? certificate = tls ? _certificates.Issue("localhost") : null;
        await using ProtocolBackend backend = await ProtocolBackend.StartAsync(HttpProtocols.Http2, certificate);
        await using TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                o.Backends.Clear();
                o.Backends.Add(new BackendOptions { Id = "h2", Url = backend.Url, Http2 = true });
                o.BackendTls.CaBundleFile = _certificates.CaFile;
            },
            backendCount: 1);

        // Several at once: they share the backend connection as streams.
        string[] answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => proxy.Client.GetStringAsync("/", Ct)));

        Assert.All(answers, answer => Assert.Equal(tls ? "HTTP/2 https" : "HTTP/2 http", answer));
    }

    [Fact]
    public async Task An_https_backend_with_a_certificate_the_system_does_not_trust_is_refused_by_default()
    {
        await using ProtocolBackend backend = await ProtocolBackend.StartAsync(HttpProtocols.Http1AndHttp2, _certificates.Issue("localhost"));
        await using TestProxy proxy = await TestProxy.StartAsync(o => UseOnly(o, backend.Url), backendCount: 1);

        using HttpResponseMessage response = await proxy.Client.GetAsync("/", Ct);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
    }

    [Fact]
    public async Task An_https_backend_is_trusted_through_BackendTls_CaBundleFile_and_its_name_is_still_checked()
    {
        await using ProtocolBackend backend = await ProtocolBackend.StartAsync(HttpProtocols.Http1AndHttp2, _certificates.Issue("localhost"));
        await using ProtocolBackend misnamed = await ProtocolBackend.StartAsync(HttpProtocols.Http1AndHttp2, _certificates.Issue("elsewhere.test"));
        await using TestProxy proxy = await TestProxy.StartAsync(o => UseOnly(o, backend.Url, _certificates.CaFile), backendCount: 1);
        await using TestProxy wrongName = await TestProxy.StartAsync(o => UseOnly(o, misnamed.Url, _certificates.CaFile), backendCount: 1);

        Assert.Equal("HTTP/1.1 https", await proxy.Client.GetStringAsync("/", Ct));
        using HttpResponseMessage refused = await wrongName.Client.GetAsync("/", Ct);
        Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
    }

    [Fact]
    public async Task DangerouslyAcceptAnyServerCertificate_accepts_an_untrusted_misnamed_certificate()
    {
        await using ProtocolBackend misnamed = await ProtocolBackend.StartAsync(HttpProtocols.Http1AndHttp2, _certificates.Issue("elsewhere.test"));
        await using TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                UseOnly(o, misnamed.Url);
                o.BackendTls.DangerouslyAcceptAnyServerCertificate = true;
            },
            backendCount: 1);

        Assert.Equal("HTTP/1.1 https", await proxy.Client.GetStringAsync("/", Ct));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Active_probes_reach_an_Http2_backend_as_requests_do_and_trust_the_CA_bundle(bool tls)
    {
        X509Certificate2? certificate = tls ? _certificates.Issue("localhost") : null;
        await using ProtocolBackend backend = await ProtocolBackend.StartAsync(HttpProtocols.Http2, certificate);
        await using TestProxy proxy = await TestProxy.StartAsync(
            o =>
            {
                o.Backends.Clear();
                o.Backends.Add(new BackendOptions { Id = "h2", Url = backend.Url, Http2 = true });
                o.BackendTls.CaBundleFile = _certificates.CaFile;
                o.HealthChecks.IntervalMs = 200;
                o.HealthChecks.JitterMs = 0;
                o.HealthChecks.TimeoutMs = 200;
            },
            backendCount: 1);

        // Probes every 200 ms: after 1.2 s, a backend whose probes failed would have left Healthy (2 failures).
        await Task.Delay(1200, Ct);

        Assert.Contains("loadwise_backend_health{backend=\"h2\",state=\"healthy\"} 1", proxy.Scrape(), StringComparison.Ordinal);
    }

    private static void UseOnly(ProxyOptions options, string url, string? caBundle = null)
    {
        options.Backends.Clear();
        options.Backends.Add(new BackendOptions { Id = "tls", Url = url });
        options.BackendTls.CaBundleFile = caBundle;
        options.HealthChecks.Passive.Enabled = false;
    }
}
