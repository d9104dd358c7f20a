using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.IntegrationTests.Admin;

/// <summary>
/// The admin API on its own listener: what it shows, what it changes, and who may call it (token, origin, loopback).
/// </summary>
public sealed class AdminApiTests
{
    private const string Token = "s3cret-token-of-24-chars";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Backends_shows_each_backend_with_health_admin_state_and_its_last_minute()
    {
        await using TestProxy proxy = await StartAsync(backendCount: 2);
        await proxy.CountAsync(20);
        proxy.Server.Admin!.Sample();

        using JsonDocument json = await GetJsonAsync(proxy, "/admin/backends");
        JsonElement root = json.RootElement;
        Assert.Equal("RoundRobin", root.GetProperty("strategy").GetString());
        JsonElement[] backends = [.. root.GetProperty("backends").EnumerateArray()];
        Assert.Equal([proxy.Backends[0].Name, proxy.Backends[1].Name], backends.Select(b => b.GetProperty("id").GetString()));
        Assert.All(backends, b => Assert.Equal("healthy", b.GetProperty("health").GetString()));
        Assert.All(backends, b => Assert.Equal("in_service", b.GetProperty("admin").GetString()));
        Assert.Equal(20, backends.Sum(b => b.GetProperty("requests").GetInt64()));
        Assert.All(backends, b => Assert.Equal(JsonValueKind.Number, b.GetProperty("p99Ms").ValueKind));
        Assert.All(backends, b => Assert.Equal(60, b.GetProperty("perSecond").GetArrayLength()));
    }

    [Fact]
    public async Task Drain_takes_a_backend_out_of_the_picks_and_ready_brings_it_back()
    {
        await using TestProxy proxy = await StartAsync(backendCount: 2);
        string drained = proxy.Backends[0].Name;

        using (JsonDocument view = await PostJsonAsync(proxy, $"/admin/backends/{drained}/drain", HttpStatusCode.OK))
        {
            Assert.Equal("maintenance", view.RootElement.GetProperty("admin").GetString());
        }

        Assert.Equal([proxy.Backends[1].Name], (await proxy.CountAsync(10)).Keys);

        using (JsonDocument view = await PostJsonAsync(proxy, $"/admin/backends/{drained}/ready", HttpStatusCode.OK))
        {
            Assert.Equal("in_service", view.RootElement.GetProperty("admin").GetString());
        }

        Assert.Equal(2, (await proxy.CountAsync(10)).Count);
    }

    [Fact]
    public async Task A_drained_backend_is_draining_while_its_requests_finish_then_in_maintenance()
    {
        await using TestProxy proxy = await StartAsync(backendCount: 2);
        string id = proxy.Backends[0].Name;
        // Round robin: the first request goes to the first backend.
        Task<HttpResponseMessage> slow = proxy.Client.GetAsync("/delay/1500", Ct);
        await ScriptedBackend.WaitForAsync(() => proxy.Server.Backends[0].InFlight == 1, "the slow request to reach the first backend");

        using (JsonDocument view = await PostJsonAsync(proxy, $"/admin/backends/{id}/drain", HttpStatusCode.OK))
        {
            Assert.Equal("draining", view.RootElement.GetProperty("admin").GetString());
        }

        using HttpResponseMessage finished = await slow;
        Assert.Equal(HttpStatusCode.OK, finished.StatusCode);
        using JsonDocument after = await GetJsonAsync(proxy, "/admin/backends");
        Assert.Equal("maintenance", after.RootElement.GetProperty("backends")[0].GetProperty("admin").GetString());
    }

    [Fact]
    public async Task Config_shows_the_configuration_in_force()
    {
        await using TestProxy proxy = await StartAsync(backendCount: 2);
        using JsonDocument json = await GetJsonAsync(proxy, "/admin/config");
        JsonElement root = json.RootElement;
        Assert.Equal("RoundRobin", root.GetProperty("Strategy").GetProperty("Name").GetString());
        Assert.Equal(proxy.Backends.Select(b => b.Url), root.GetProperty("Backends").EnumerateArray().Select(b => b.GetProperty("Url").GetString()));
        Assert.Equal("http://127.0.0.1:0", root.GetProperty("Admin").GetProperty("Listen").GetString());
    }

    [Fact]
    public async Task With_a_token_every_call_needs_it_and_the_page_does_not()
    {
        string variable = "LOADWISE_TEST_ADMIN_TOKEN_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, Token);
        try
        {
            await using TestProxy proxy = await StartAsync(backendCount: 1, configure: o => o.Admin.TokenEnvironmentVariable = variable);
            using HttpResponseMessage none = await SendAsync(proxy, HttpMethod.Get, "/admin/backends", token: null);
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
            Assert.Equal("Bearer", none.Headers.WwwAuthenticate.Single().Scheme);
            using HttpResponseMessage wrong = await SendAsync(proxy, HttpMethod.Post, $"/admin/backends/{proxy.Backends[0].Name}/drain", token: Token + "x");
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            Assert.False(proxy.Server.Backends[0].Drained);
            using HttpResponseMessage right = await SendAsync(proxy, HttpMethod.Get, "/admin/backends", token: Token);
            Assert.Equal(HttpStatusCode.OK, right.StatusCode);
            using HttpResponseMessage page = await SendAsync(proxy, HttpMethod.Get, "/admin/", token: null);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task A_call_from_a_page_of_another_origin_is_refused_and_changes_nothing()
    {
        await using TestProxy proxy = await StartAsync(backendCount: 1);
        string id = proxy.Backends[0].Name;
        using var foreign = new HttpRequestMessage(HttpMethod.Post, proxy.Server.AdminUrl + $"/admin/backends/{id}/drain");
        foreign.Headers.Add("Origin", "http://evil.example");
        using HttpResponseMessage refused = await proxy.Client.SendAsync(foreign, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.False(proxy.Server.Backends[0].Drained);

        using var own = new HttpRequestMessage(HttpMethod.Post, proxy.Server.AdminUrl + $"/admin/backends/{id}/drain");
        own.Headers.Add("Origin", proxy.Server.AdminUrl);
        using HttpResponseMessage allowed = await proxy.Client.SendAsync(own, Ct);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.True(proxy.Server.Backends[0].Drained);
    }

    [Fact]
    public async Task Unknown_resources_wrong_methods_and_unknown_backends_get_json_errors()
    {
        await using TestProxy proxy = await StartAsync(backendCount: 1);
        using HttpResponseMessage missing = await SendAsync(proxy, HttpMethod.Get, "/admin/nothing");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using HttpResponseMessage get = await SendAsync(proxy, HttpMethod.Get, "/admin/reload");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        Assert.Equal("POST", get.Content.Headers.Allow.Single());
        using HttpResponseMessage unknown = await SendAsync(proxy, HttpMethod.Post, "/admin/backends/nope/drain");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using JsonDocument error = JsonDocument.Parse(await unknown.Content.ReadAsStringAsync(Ct));
        Assert.Contains("no backend 'nope'", error.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_admin_paths_on_the_proxy_port_are_forwarded_like_any_other()
    {
        await using TestProxy proxy = await StartAsync(backendCount: 1);
        using HttpResponseMessage forwarded = await proxy.Client.PostAsync($"/admin/backends/{proxy.Backends[0].Name}/drain", null, Ct);
        Assert.Equal(HttpStatusCode.NotFound, forwarded.StatusCode); // the demo backend's answer
        Assert.Equal(1, proxy.Backends[0].Requests);
        Assert.False(proxy.Server.Backends[0].Drained);
    }

    [Fact]
    public async Task Without_a_token_a_listener_other_hosts_can_reach_is_read_only()
    {
        // 0.0.0.0 is reachable from other hosts; the test still calls it on 127.0.0.1.
        await using TestProxy proxy = await StartAsync(backendCount: 1, admin: "http://0.0.0.0:0");
        string local = "http://127.0.0.1:" + new Uri(proxy.Server.AdminUrl!).Port;
        using HttpResponseMessage read = await proxy.Client.GetAsync(local + "/admin/backends", Ct);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        using HttpResponseMessage drain = await proxy.Client.PostAsync(local + $"/admin/backends/{proxy.Backends[0].Name}/drain", null, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, drain.StatusCode);
        Assert.Contains("Admin:TokenFile", await drain.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.False(proxy.Server.Backends[0].Drained);
        using HttpResponseMessage config = await proxy.Client.GetAsync(local + "/admin/config", Ct);
        Assert.Equal(HttpStatusCode.Forbidden, config.StatusCode);
    }

    [Fact]
    public async Task A_host_name_other_than_the_listener_s_is_refused_against_dns_rebinding()
    {
        await using TestProxy proxy = await StartAsync(backendCount: 1);
        string id = proxy.Backends[0].Name;
        using var rebound = new HttpRequestMessage(HttpMethod.Post, proxy.Server.AdminUrl + $"/admin/backends/{id}/drain");
        rebound.Headers.Host = "evil.example:" + new Uri(proxy.Server.AdminUrl!).Port;
        rebound.Headers.Add("Origin", "http://" + rebound.Headers.Host);
        using HttpResponseMessage refused = await proxy.Client.SendAsync(rebound, Ct);
        Assert.Equal(HttpStatusCode.MisdirectedRequest, refused.StatusCode);
        Assert.False(proxy.Server.Backends[0].Drained);

        using var page = new HttpRequestMessage(HttpMethod.Get, proxy.Server.AdminUrl + "/admin/");
        page.Headers.Host = "evil.example";
        using HttpResponseMessage pageRefused = await proxy.Client.SendAsync(page, Ct);
        Assert.Equal(HttpStatusCode.MisdirectedRequest, pageRefused.StatusCode);

        using var local = new HttpRequestMessage(HttpMethod.Get, proxy.Server.AdminUrl + "/admin/backends");
        local.Headers.Host = "localhost:" + new Uri(proxy.Server.AdminUrl!).Port;
        using HttpResponseMessage allowed = await proxy.Client.SendAsync(local, Ct);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Theory]
    [InlineData("http://127.0.0.1:9100", true)]
    [InlineData("http://localhost:9100", true)]
    [InlineData("http://[::1]:9100", true)]
    [InlineData("http://0.0.0.0:9100", false)]
    [InlineData("http://10.0.0.5:9100", false)]
    [InlineData("http://[::]:9100", false)]
    public void Loopback_is_told_from_the_listen_url(string url, bool loopback) =>
        Assert.Equal(loopback, Loadwise.AotProxy.Admin.AdminApi.IsLoopback(new Uri(url)));

    private static Task<TestProxy> StartAsync(int backendCount, Action<ProxyOptions>? configure = null, string admin = "http://127.0.0.1:0") =>
        TestProxy.StartAsync(o =>
        {
            o.Admin.Listen = admin;
            configure?.Invoke(o);
        }, backendCount);

    private static async Task<HttpResponseMessage> SendAsync(TestProxy proxy, HttpMethod method, string path, string? token = null)
    {
        using var request = new HttpRequestMessage(method, proxy.Server.AdminUrl + path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await proxy.Client.SendAsync(request, Ct);
    }

    private static async Task<JsonDocument> GetJsonAsync(TestProxy proxy, string path)
    {
        using HttpResponseMessage response = await SendAsync(proxy, HttpMethod.Get, path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl!.ToString());
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
    }

    private static async Task<JsonDocument> PostJsonAsync(TestProxy proxy, string path, HttpStatusCode expected)
    {
        using HttpResponseMessage response = await SendAsync(proxy, HttpMethod.Post, path);
        Assert.Equal(expected, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
    }
}
