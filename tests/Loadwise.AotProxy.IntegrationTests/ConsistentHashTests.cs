using System.Net;
using Loadwise.AotProxy.Router;

namespace Loadwise.AotProxy.IntegrationTests;

public sealed class ConsistentHashTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("ConsistentHash")]
    [InlineData("Maglev")]
    public async Task Sticks_by_header_and_spreads_keys_and_falls_back_without_one(string strategy)
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o =>
        {
            o.Strategy.Name = strategy;
            o.Strategy.HashKey.Source = "Header";
            o.Strategy.HashKey.Name = "X-User";
            o.Strategy.Fallback = "RoundRobin";
        });
        var owners = new HashSet<string>();
        for (int user = 0; user < 24; user++)
        {
            var seen = new HashSet<string>();
            for (int i = 0; i < 4; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/");
                request.Headers.Add("X-User", $"user-{user}");
                using HttpResponseMessage response = await proxy.Client.SendAsync(request, Ct);
                seen.Add((await response.Content.ReadAsStringAsync(Ct)).Trim());
            }

            Assert.Single(seen);
            owners.UnionWith(seen);
        }

        Assert.Equal(3, owners.Count);

        // No key: the fallback (round robin) serves, so three keyless requests reach all three backends.
        Dictionary<string, int> keyless = await proxy.CountAsync(3);
        Assert.Equal(3, keyless.Count);
    }

    [Fact]
    public async Task Sticks_by_client_ip()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o =>
        {
            o.Strategy.Name = "ConsistentHash";
            o.Strategy.HashKey.Source = "ClientIp";
        });
        var owners = new HashSet<string>();
        for (int host = 1; host <= 16; host++)
        {
            using var client = new HttpClient(TestProxy.NewHandler(IPAddress.Parse($"127.0.0.{host}"))) { BaseAddress = proxy.BaseUri };
            Dictionary<string, int> counts = await proxy.CountAsync(4, "/", client);
            Assert.Single(counts);
            owners.UnionWith(counts.Keys);
        }

        Assert.True(owners.Count >= 2, "16 client addresses all hashed to one backend");
    }

    [Fact]
    public async Task Behind_a_trusted_proxy_the_client_ip_comes_from_x_forwarded_for()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o =>
        {
            o.Strategy.Name = "ConsistentHash";
            o.Strategy.HashKey.Source = "ClientIp";
            o.Forwarding.TrustedProxies.Add("127.0.0.0/8");
        });
        var owners = new HashSet<string>();
        for (int client = 1; client <= 16; client++)
        {
            var seen = new HashSet<string>();
            for (int i = 0; i < 3; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/");
                request.Headers.Add("X-Forwarded-For", $"198.51.100.{client}, 127.0.0.9");
                using HttpResponseMessage response = await proxy.Client.SendAsync(request, Ct);
                seen.Add((await response.Content.ReadAsStringAsync(Ct)).Trim());
            }

            Assert.Single(seen);
            owners.UnionWith(seen);
        }

        Assert.True(owners.Count >= 2, "16 forwarded client addresses all hashed to one backend");
    }

    [Fact]
    public async Task A_spoofed_x_forwarded_for_from_an_untrusted_peer_does_not_move_the_client()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o =>
        {
            o.Strategy.Name = "ConsistentHash";
            o.Strategy.HashKey.Source = "ClientIp";
            o.Forwarding.TrustedProxies.Add("10.0.0.0/8");
        });
        var seen = new HashSet<string>();
        for (int client = 1; client <= 16; client++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Add("X-Forwarded-For", $"198.51.100.{client}");
            using HttpResponseMessage response = await proxy.Client.SendAsync(request, Ct);
            seen.Add((await response.Content.ReadAsStringAsync(Ct)).Trim());
        }

        Assert.Single(seen);
    }

    [Theory]
    [InlineData("127.0.0.1", "203.0.113.5", "127.0.0.1")] // untrusted peer: its header is ignored
    [InlineData("10.0.0.2", "203.0.113.5", "203.0.113.5")]
    [InlineData("10.0.0.2", "203.0.113.5, 10.0.0.7", "203.0.113.5")] // skip trusted hops from the right
    [InlineData("10.0.0.2", "198.51.100.1, 203.0.113.5", "203.0.113.5")] // rightmost untrusted, not the spoofable leftmost
    [InlineData("10.0.0.2", "10.0.0.8, 10.0.0.7", "10.0.0.8")] // all trusted: the leftmost
    [InlineData("10.0.0.2", "garbage", "10.0.0.2")]
    [InlineData("10.0.0.2", "", "10.0.0.2")]
    public void Client_address_resolution(string peer, string forwardedFor, string expected)
    {
        Loadwise.AotProxy.Http.ForwardedHeaders.TryParseNetwork("10.0.0.0/8", out IPNetwork trusted);
        var rules = new Loadwise.AotProxy.Http.ForwardedHeaders([trusted]);
        Assert.Equal(IPAddress.Parse(expected), rules.ResolveClient(IPAddress.Parse(peer), forwardedFor));
    }

    [Theory]
    [InlineData("Cookie", "session", "Cookie", "theme=dark; session=abc123")]
    [InlineData("Query", "tenant", null, null)]
    [InlineData("Path", null, null, null)]
    public async Task Sticks_by_cookie_query_and_path(string source, string? name, string? header, string? value)
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o =>
        {
            o.Strategy.Name = "ConsistentHash";
            o.Strategy.HashKey.Source = source;
            o.Strategy.HashKey.Name = name;
        });
        var seen = new HashSet<string>();
        for (int i = 0; i < 6; i++)
        {
            // The demo backend answers its name on any path under /?x; /headers also answers, so use the query on "/".
            using var request = new HttpRequestMessage(HttpMethod.Get, source == "Path" ? "/?p=1" : "/?tenant=acme&x=" + i);
            if (header is not null)
            {
                request.Headers.TryAddWithoutValidation(header, value);
            }

            using HttpResponseMessage response = await proxy.Client.SendAsync(request, Ct);
            seen.Add((await response.Content.ReadAsStringAsync(Ct)).Trim());
        }

        Assert.Single(seen);
    }

    [Theory]
    [InlineData("a=1; session=xyz; b=2", "session", ';', "xyz")]
    [InlineData("session=xyz", "session", ';', "xyz")]
    [InlineData("sessionid=1; session = xyz ", "session", ';', "xyz")]
    [InlineData("tenant=acme&x=1", "tenant", '&', "acme")]
    [InlineData("x=1&tenant=", "tenant", '&', "")]
    [InlineData("x=1", "tenant", '&', "")]
    public void FindPair_reads_the_raw_value(string list, string name, char separator, string expected) =>
        Assert.Equal(expected, HashKeySource.FindPair(list, name, separator).ToString());
}
