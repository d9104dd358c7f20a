using Loadwise.AotProxy.Http;

namespace Loadwise.AotProxy.IntegrationTests;

public sealed class HeaderTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Hop_by_hop_request_headers_are_stripped_and_end_to_end_ones_kept()
    {
        await using TestProxy proxy = await TestProxy.StartAsync();
        // The Connection header names a custom header only: Kestrel (.NET 8-10) rewrites a Connection header that
        // also carries close/keep-alive/upgrade to just that token before the application sees it (see docs/proxy/forwarding-and-security.md, "Header rules").
        // Transfer-Encoding is in the rules too (see Hop_by_hop_rules), but HttpClient re-frames a body upstream, so it is
        // checked there rather than here.
        string response = await RawHttp.SendAsync(proxy.Port, $"""
            GET /headers HTTP/1.1
            Host: 127.0.0.1:{proxy.Port}
            Connection: X-Named-By-Connection
            X-Named-By-Connection: 1
            Keep-Alive: timeout=5
            TE: trailers
            Trailer: X-Checksum
            Upgrade: websocket
            Proxy-Authorization: Basic Zm9vOmJhcg==
            Proxy-Anything: 1
            X-End-To-End: kept


            """);
        Dictionary<string, string> seen = RawHttp.ParseHeaderEcho(response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
        foreach (string stripped in new[] { "X-Named-By-Connection", "Keep-Alive", "TE", "Trailer", "Upgrade", "Proxy-Authorization", "Proxy-Anything" })
        {
            Assert.False(seen.ContainsKey(stripped), $"{stripped} reached the backend");
        }

        Assert.Equal("kept", seen["X-End-To-End"]);
    }

    [Fact]
    public async Task Hop_by_hop_response_headers_are_stripped()
    {
        await using TestProxy proxy = await TestProxy.StartAsync();
        using HttpResponseMessage response = await proxy.Client.GetAsync("/hop", Ct);
        Assert.Equal("hop", await response.Content.ReadAsStringAsync(Ct));
        Assert.False(response.Headers.Contains("X-Named-By-Connection"));
        Assert.False(response.Headers.Contains("Keep-Alive"));
        Assert.False(response.Headers.Contains("Proxy-Thing"));
        Assert.False(response.Headers.Contains("Upgrade"));
        Assert.Equal(["kept"], response.Headers.GetValues("X-Kept"));
        Assert.Equal(["a=1", "b=2"], response.Headers.GetValues("Set-Cookie"));
    }

    [Fact]
    public async Task Untrusted_peer_gets_its_forwarded_headers_replaced()
    {
        await using TestProxy proxy = await TestProxy.StartAsync();
        Dictionary<string, string> seen = await EchoAsync(proxy);
        Assert.Equal("127.0.0.1", seen["X-Forwarded-For"]);
        Assert.Equal("http", seen["X-Forwarded-Proto"]);
        Assert.Equal($"127.0.0.1:{proxy.Port}", seen["X-Forwarded-Host"]);
    }

    [Fact]
    public async Task Trusted_peer_gets_its_forwarded_for_appended_and_proto_host_kept()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Forwarding.TrustedProxies.Add("127.0.0.0/8"));
        Dictionary<string, string> seen = await EchoAsync(proxy);
        Assert.Equal("203.0.113.7, 127.0.0.1", seen["X-Forwarded-For"]);
        Assert.Equal("https", seen["X-Forwarded-Proto"]);
        Assert.Equal("shop.example", seen["X-Forwarded-Host"]);
    }

    [Fact]
    public async Task Trust_is_by_network_not_by_any_loopback()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Forwarding.TrustedProxies.Add("10.0.0.0/8"));
        Dictionary<string, string> seen = await EchoAsync(proxy);
        Assert.Equal("127.0.0.1", seen["X-Forwarded-For"]);
    }

    [Theory]
    [InlineData("Backend")]
    [InlineData("Preserve")]
    public async Task Host_header_follows_the_policy(string policy)
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Forwarding.HostHeader = policy);
        Dictionary<string, string> seen = await EchoAsync(proxy);
        string expected = policy == "Preserve" ? $"127.0.0.1:{proxy.Port}" : new Uri(proxy.Backends[0].Url).Authority;
        Assert.Equal(expected, seen["Host"]);
    }

    [Theory]
    [InlineData("Connection", null, true)]
    [InlineData("Transfer-Encoding", null, true)]
    [InlineData("TE", null, true)]
    [InlineData("Trailer", null, true)]
    [InlineData("Upgrade", null, true)]
    [InlineData("keep-alive", null, true)]
    [InlineData("Proxy-Whatever", null, true)]
    [InlineData("X-Foo", "close, x-foo", true)]
    [InlineData("X-Foo", "close,X-Foo ,bar", true)]
    [InlineData("X-Foo", "close, x-foobar", false)]
    [InlineData("Content-Type", "close", false)]
    public void Hop_by_hop_rules(string name, string? connection, bool hopByHop)
    {
        Assert.Equal(hopByHop, HeaderRules.IsHopByHop(name, connection));
        Assert.Equal(hopByHop, HeaderRules.IsHopByHop(System.Text.Encoding.ASCII.GetBytes(name), connection));
    }

    [Fact]
    public void Names_off_the_wire_get_the_same_answer_as_strings()
    {
        // The byte overload settles most names by first letter and length before any lookup; it must agree everywhere.
        string[] names =
        [
            "Connection", "connection", "CONNECTION", "Keep-Alive", "keep-alive", "TE", "te", "Trailer", "Transfer-Encoding",
            "transfer-encoding", "Upgrade", "Expect", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
            "proxy-x", "Proxy-", "P", "Content-Type", "Content-Length", "Cache-Control", "Cookie", "Date", "Server", "ETag",
            "Accept-Ranges", "Last-Modified", "Trailers", "Upgrade-Insecure-Requests", "Expect-CT", "Tk", "Keep", "X-A", "",
            new string('C', 10), new string('K', 70), "Kee-Alive1", "Host", "host", "Hosts", "X-Forwarded-For", "x-forwarded-proto",
            "X-Forwarded-Host", "X-Forwarded-Port", "X-Foo", "X_Forwarded_For", "x_real_ip", "Forwarded", "Forwarde_", "True-Client-IP",
        ];
        foreach (string name in names)
        {
            byte[] bytes = System.Text.Encoding.ASCII.GetBytes(name);
            foreach (string? connection in new[] { null, "close, x-foo", "keep-alive" })
            {
                Assert.True(
                    HeaderRules.IsHopByHop(name, connection) == HeaderRules.IsHopByHop(bytes, connection),
                    $"IsHopByHop('{name}', '{connection}') differs between the string and byte overloads");
                foreach (bool forwarded in new[] { true, false })
                {
                    foreach (HeaderNameSet? untrusted in new[] { null, new ForwardedHeaders([]).Untrusted })
                    {
                        Assert.True(
                            HeaderRules.SkipRequestHeader(name, connection, forwarded, untrusted) == HeaderRules.SkipRequestHeader(bytes, connection, forwarded, untrusted),
                            $"SkipRequestHeader('{name}', '{connection}', {forwarded}, {untrusted is not null}) differs between the string and byte overloads");
                    }
                }
            }
        }
    }

    private static async Task<Dictionary<string, string>> EchoAsync(TestProxy proxy)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/headers");
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-Host", "shop.example");
        using HttpResponseMessage response = await proxy.Client.SendAsync(request, Ct);
        return RawHttp.ParseHeaderEcho(await response.Content.ReadAsStringAsync(Ct));
    }
}
