using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.IntegrationTests;

public sealed class ConfigValidationTests
{
    private const string AllStrategies = "RoundRobin, Random, WeightedRandom, WeightedRoundRobin, LeastLoad, PowerOfTwoChoices, ConsistentHash, MostAvailable, WeightedLeastRequest, Maglev, PeakEwma";
    private const string KeylessStrategies = "RoundRobin, Random, WeightedRandom, WeightedRoundRobin, LeastLoad, PowerOfTwoChoices, MostAvailable, WeightedLeastRequest";
    private const string ListenAllowed = "expected an http:// or https:// URL with a host and port such as http://0.0.0.0:3000 (no path; an https:// one needs its certificates under Tls:Listeners)";
    private const string UrlAllowed = "expected an absolute http:// or https:// URL without query, fragment or user info";
    private const string IdAllowed = "expected a name of 1 to 128 characters without spaces or control characters";

    /// <summary>A valid configuration; each case changes some keys (null removes one).</summary>
    private static Dictionary<string, string?> Valid() => new()
    {
        ["Listen:0"] = "http://127.0.0.1:3000",
        ["Backends:0:Id"] = "b1",
        ["Backends:0:Url"] = "http://127.0.0.1:8081",
        ["Backends:1:Id"] = "b2",
        ["Backends:1:Url"] = "http://127.0.0.1:8082",
        ["Strategy:Name"] = "RoundRobin",
    };

    /// <summary>Every row: key=value changes, and the exact line the proxy prints.</summary>
    public static TheoryData<string, string> BadConfigs => new()
    {
        { "Listen:0=", "Listen: got '(missing)', expected at least one URL such as http://127.0.0.1:3000" },
        { "Listen:0=https://0.0.0.0:443", "Tls:Listeners: got no entry for 'https://0.0.0.0:443', expected one with \"Url\": \"https://0.0.0.0:443\" and its Certificates (an https:// listener needs a certificate)" },
        { "Listen:0=not a url", $"Listen:0: got 'not a url', {ListenAllowed}" },
        { "Tls:Listeners:0:Url=https://0.0.0.0:443|Tls:Listeners:0:Certificates:0:PfxFile=/etc/hostname", "Tls:Listeners:0:Url: got 'https://0.0.0.0:443', expected one of the https:// URLs in Listen (there is none)" },
        { "Listen:0=https://0.0.0.0:443|Tls:Listeners:0:Url=https://0.0.0.0:443|Tls:Listeners:0:Certificates:0:PfxFile=/nonexistent/site.pfx", "Tls:Listeners:0:Certificates:0:PfxFile: got '/nonexistent/site.pfx', expected a PFX (PKCS #12) file (no such file)" },
        { "Listen:0=https://0.0.0.0:443|Tls:Listeners:0:Url=https://0.0.0.0:443|Tls:Listeners:0:Certificates:0:PfxFile=/nonexistent/site.pfx|Tls:Listeners:0:Certificates:0:KeyFile=/k.pem", "Tls:Listeners:0:Certificates:0: got both PEM and PFX files, expected CertificateFile and KeyFile (PEM), or PfxFile" },
        { "Listen:0=https://0.0.0.0:443|Tls:Listeners:0:Url=https://0.0.0.0:443|Tls:Listeners:0:Certificates:0:PfxFile=/etc/hostname|Tls:Listeners:0:Certificates:0:Hosts:0=a.*.example.com", "Tls:Listeners:0:Certificates:0:Hosts:0: got 'a.*.example.com', expected a host name such as example.com, or *.example.com for the names one label below it" },
        { "BackendTls:CaBundleFile=/nonexistent/ca.pem", "BackendTls:CaBundleFile: got '/nonexistent/ca.pem', expected a readable PEM file of CA certificates (no such file)" },
        { "Http2:CleartextListen:0=http://127.0.0.1:3001", "Http2:CleartextListen:0: got 'http://127.0.0.1:3001', expected one of the http:// URLs in Listen (HTTP/2 over TLS needs no entry: ALPN chooses it)" },
        { "Http2:MaxFrameSize=1000", "Http2:MaxFrameSize: got '1000', expected an integer from 16384 to 16777215" },
        { "Backends:0:Id=|Backends:0:Url=|Backends:1:Id=|Backends:1:Url=", "Backends: got '(missing)', expected at least one backend with an Id and a Url" },
        { "Backends:1:Id=b1", "Backends:1:Id: got 'b1', expected an id not used by another backend" },
        { "Backends:0:Id=has space", $"Backends:0:Id: got 'has space', {IdAllowed}" },
        { "Backends:0:Id=", $"Backends:0:Id: got '(missing)', {IdAllowed}" },
        { "Backends:0:Url=ftp://files.example", $"Backends:0:Url: got 'ftp://files.example', {UrlAllowed}" },
        { "Backends:0:Url=http://api.example/?v=1", $"Backends:0:Url: got 'http://api.example/?v=1', {UrlAllowed}" },
        { "Backends:1:Url=", $"Backends:1:Url: got '(missing)', {UrlAllowed}" },
        { "Backends:0:Weight=-1", "Backends:0:Weight: got '-1', expected an integer from 0 to 1000000" },
        { "Backends:0:Weight=heavy", "Backends:0:Weight: got 'heavy', expected an integer" },
        { "Backends:0:Capacity=-3", "Backends:0:Capacity: got '-3', expected an integer >= 0" },
        { "Strategy:Name=Fastest", $"Strategy:Name: got 'Fastest', expected one of {AllStrategies}" },
        { "Strategy:VirtualNodes=0", "Strategy:VirtualNodes: got '0', expected an integer from 1 to 65536" },
        { "Strategy:Epsilon=2", "Strategy:Epsilon: got '2', expected a number from 0 to 1" },
        { "Strategy:Epsilon=tiny", "Strategy:Epsilon: got 'tiny', expected a number" },
        { "Strategy:Seed=-5", "Strategy:Seed: got '-5', expected a non-negative integer" },
        { "Strategy:Name=ConsistentHash|Strategy:Fallback=ConsistentHash", $"Strategy:Fallback: got 'ConsistentHash', expected one of {KeylessStrategies}" },
        { "Strategy:Name=ConsistentHash|Strategy:HashKey:Source=Body", "Strategy:HashKey:Source: got 'Body', expected one of ClientIp, Header, Cookie, Path, Query" },
        { "Strategy:Name=ConsistentHash|Strategy:HashKey:Source=Header", "Strategy:HashKey:Name: got '(missing)', expected the header name to hash (letters, digits and -_.)" },
        { "Strategy:Name=ConsistentHash|Strategy:HashKey:Source=Cookie|Strategy:HashKey:Name=a b", "Strategy:HashKey:Name: got 'a b', expected the cookie name to hash (letters, digits and -_.)" },
        { "Timeouts:ConnectMs=0", "Timeouts:ConnectMs: got '0', expected an integer from 1 to 600000" },
        { "Timeouts:ResponseHeadersMs=soon", "Timeouts:ResponseHeadersMs: got 'soon', expected an integer" },
        { "Timeouts:IdleMs=-1", "Timeouts:IdleMs: got '-1', expected an integer from 1 to 3600000" },
        { "Limits:MaxRequestBodyBytes=0", "Limits:MaxRequestBodyBytes: got '0', expected an integer >= 1" },
        { "Limits:MaxRequestHeadersTotalBytes=100", "Limits:MaxRequestHeadersTotalBytes: got '100', expected an integer from 1024 to 1048576" },
        { "Limits:MaxConcurrentConnections=-1", "Limits:MaxConcurrentConnections: got '-1', expected an integer >= 0" },
        { "Forwarding:TrustedProxies:0=10.0.0.0/33", "Forwarding:TrustedProxies:0: got '10.0.0.0/33', expected an IP address or a CIDR network such as 10.0.0.0/8" },
        { "Forwarding:HostHeader=Rewrite", "Forwarding:HostHeader: got 'Rewrite', expected one of Backend, Preserve" },
        { "Forwarding:XForwarded=yes please", "Forwarding:XForwarded: got 'yes please', expected true or false" },
        { "Metrics:Path=metrics", "Metrics:Path: got 'metrics', expected a path starting with '/' and without '?', '#' or spaces" },
        { "Admin:Listen=http://127.0.0.1:3000", "Admin:Listen: got 'http://127.0.0.1:3000', expected a port other than the proxy's listen port 3000" },
        { "Metrics:AdminListen=http://127.0.0.1:9100", "Metrics:AdminListen: got 'http://127.0.0.1:9100', expected nothing: the key is now Admin:Listen (it serves the admin API and status page too); rename it" },
        { "Limits:MaxRequestHeaderCount=0", "Limits:MaxRequestHeaderCount: got '0', expected an integer from 1 to 10000" },
        { "Limits:RequestHeadersTimeoutMs=10", "Limits:RequestHeadersTimeoutMs: got '10', expected an integer from 100 to 600000" },
        { "Limits:MinRequestBodyBytesPerSecond=-1", "Limits:MinRequestBodyBytesPerSecond: got '-1', expected an integer >= 0" },
        { "Limits:MinRequestBodyGraceMs=0", "Limits:MinRequestBodyGraceMs: got '0', expected an integer from 2000 to 600000" },
        { "Limits:MinResponseBytesPerSecond=-5", "Limits:MinResponseBytesPerSecond: got '-5', expected an integer >= 0" },
        { "Limits:MinResponseGraceMs=100", "Limits:MinResponseGraceMs: got '100', expected an integer from 2000 to 600000" },
        { "HealthChecks:Path=health", "HealthChecks:Path: got 'health', expected a path starting with '/' (a query is allowed) without '#', spaces or control characters" },
        { "HealthChecks:Enabled=sometimes", "HealthChecks:Enabled: got 'sometimes', expected true or false" },
        { "Performance:InlineSocketCompletions=maybe", "Performance:InlineSocketCompletions: got 'maybe', expected true or false" },
        { "Performance:InlineScheduling=often", "Performance:InlineScheduling: got 'often', expected true or false" },
        { "Performance:DirectHttp1=yes", "Performance:DirectHttp1: got 'yes', expected true or false" },
        { "Performance:FastPath=fast", "Performance:FastPath: got 'fast', expected true or false" },
        { "Performance:WaitForDataBeforeAllocatingBuffer=1x", "Performance:WaitForDataBeforeAllocatingBuffer: got '1x', expected true or false" },
        { "Performance:EventLoop=epoll", "Performance:EventLoop: got 'epoll', expected true or false" },
        { "Performance:EventLoopThreads=-1", "Performance:EventLoopThreads: got '-1', expected an integer from 0 to 1024" },
        { "HealthChecks:IntervalMs=50", "HealthChecks:IntervalMs: got '50', expected an integer from 100 to 3600000" },
        { "HealthChecks:TimeoutMs=1500", "HealthChecks:TimeoutMs: got '1500', expected an integer from 1 to HealthChecks:IntervalMs (1000)" },
        { "HealthChecks:JitterMs=600", "HealthChecks:JitterMs: got '600', expected an integer from 0 to half of HealthChecks:IntervalMs (500)" },
        { "HealthChecks:UnhealthyThreshold=0", "HealthChecks:UnhealthyThreshold: got '0', expected an integer from 1 to 100" },
        { "HealthChecks:HealthyThreshold=101", "HealthChecks:HealthyThreshold: got '101', expected an integer from 1 to 100" },
        { "HealthChecks:Passive:FailureStatusCodes=5xx", "HealthChecks:Passive:FailureStatusCodes: got '5xx', expected status codes from 100 to 599 and ranges, comma-separated, such as 500-599 or 500,502-504" },
        { "HealthChecks:Passive:MaxRetryAfterMs=0", "HealthChecks:Passive:MaxRetryAfterMs: got '0', expected an integer from 1 to 86400000" },
        { "HealthChecks:Passive:DefaultRetryAfterMs=-5", "HealthChecks:Passive:DefaultRetryAfterMs: got '-5', expected an integer from 0 to 86400000" },
        { "Retries:Count=11", "Retries:Count: got '11', expected an integer from 0 to 10" },
        { "Retries:Count=once", "Retries:Count: got 'once', expected an integer" },
        { "Retries:BudgetPercent=150", "Retries:BudgetPercent: got '150', expected an integer from 0 to 100" },
        { "Retries:BudgetWindowMs=10", "Retries:BudgetWindowMs: got '10', expected an integer from 1000 to 600000" },
        { "Retries:BudgetMinRetries=-1", "Retries:BudgetMinRetries: got '-1', expected an integer from 0 to 1000000" },
        { "RateLimiting:TokensPerSecond=0", "RateLimiting:TokensPerSecond: got '0', expected an integer from 1 to 1000000" },
        { "RateLimiting:Burst=0", "RateLimiting:Burst: got '0', expected an integer from 1 to 1000000" },
        { "RateLimiting:IPv6PrefixLength=16", "RateLimiting:IPv6PrefixLength: got '16', expected an integer from 32 to 128" },
        { "RateLimiting:SyncMs=500", "RateLimiting:SyncMs: got '500', expected an integer from 10 to 250" },
        { "RateLimiting:Shared=true", "RateLimiting:Shared: true needs State:Redis, expected State:Redis set (such as 127.0.0.1:6379) or RateLimiting:Shared false" },
        { "Drain:TimeoutMs=-1", "Drain:TimeoutMs: got '-1', expected an integer from 0 to 3600000" },
        { "Log:Level=Loud", "Log:Level: got 'Loud', expected one of Trace, Debug, Information, Warning, Error, Critical, None" },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void Each_bad_config_gives_its_exact_message(string changes, string expected)
    {
        List<string> problems = ProxyProgram.LoadAndValidate(new ConfigSources(null, Apply(changes), []), new Dictionary<string, string>(), out _);
        Assert.Equal([expected], problems);
    }

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public async Task Each_bad_config_exits_2_printing_its_line_and_no_stack_trace(string changes, string expected)
    {
        string file = WriteJson(Apply(changes));
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = await ProxyProgram.RunAsync(["--config", file], stdout, stderr, new Dictionary<string, string>());
        File.Delete(file);
        Assert.Equal(ProxyProgram.ExitInvalid, exit);
        Assert.Equal($"config error: {expected}{Environment.NewLine}", stderr.ToString());
        Assert.Equal(string.Empty, stdout.ToString());
    }

    [Fact]
    public void Every_problem_is_listed_not_only_the_first()
    {
        List<string> problems = ProxyProgram.LoadAndValidate(
            new ConfigSources(null, Apply("Timeouts:ConnectMs=abc|Timeouts:IdleMs=xyz|Strategy:Name=Nope|Backends:0:Weight=-2"), []), new Dictionary<string, string>(), out _);
        Assert.Equal(4, problems.Count);
        Assert.Contains("Timeouts:ConnectMs: got 'abc', expected an integer", problems);
        Assert.Contains("Timeouts:IdleMs: got 'xyz', expected an integer", problems);
    }

    [Fact]
    public async Task Check_config_exits_1_with_problems_and_0_when_valid()
    {
        string bad = WriteJson(Apply("Strategy:Name=Nope"));
        string good = WriteJson(Valid());
        try
        {
            var stdout = new StringWriter();
            Assert.Equal(ProxyProgram.ExitCheckFailed, await ProxyProgram.RunAsync(["--check-config", bad], stdout, new StringWriter(), new Dictionary<string, string>()));
            Assert.StartsWith("config error: Strategy:Name: got 'Nope'", stdout.ToString(), StringComparison.Ordinal);

            stdout = new StringWriter();
            Assert.Equal(ProxyProgram.ExitOk, await ProxyProgram.RunAsync(["--check-config", good], stdout, new StringWriter(), new Dictionary<string, string>()));
            Assert.Equal($"{good}: ok (2 backends, strategy RoundRobin){Environment.NewLine}", stdout.ToString());
        }
        finally
        {
            File.Delete(bad);
            File.Delete(good);
        }
    }

    [Fact]
    public async Task Missing_file_and_broken_json_exit_2_with_one_line()
    {
        var stderr = new StringWriter();
        Assert.Equal(ProxyProgram.ExitInvalid, await ProxyProgram.RunAsync(["--config", "/nonexistent/loadwise.json"], new StringWriter(), stderr, new Dictionary<string, string>()));
        Assert.Equal($"config error: --config: got '/nonexistent/loadwise.json', expected an existing JSON file{Environment.NewLine}", stderr.ToString());

        string broken = Path.GetTempFileName();
        await File.WriteAllTextAsync(broken, "{ \"Listen\": [ ", TestContext.Current.CancellationToken);
        stderr = new StringWriter();
        Assert.Equal(ProxyProgram.ExitInvalid, await ProxyProgram.RunAsync(["--config", broken], new StringWriter(), stderr, new Dictionary<string, string>()));
        File.Delete(broken);
        string[] lines = stderr.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith($"config error: --config: got '{broken}', expected valid JSON (syntax error at line 1, byte ", lines[0], StringComparison.Ordinal);

        // The position comes from JsonException's properties, not its message, so it survives native AOT trimming.
        await File.WriteAllTextAsync(broken, "{\n  \"Listen\": [ \"http://127.0.0.1:1\" ],\n  \"Backends\": [ } ]\n}", TestContext.Current.CancellationToken);
        stderr = new StringWriter();
        Assert.Equal(ProxyProgram.ExitInvalid, await ProxyProgram.RunAsync(["--config", broken], new StringWriter(), stderr, new Dictionary<string, string>()));
        File.Delete(broken);
        Assert.Equal(
            $"config error: --config: got '{broken}', expected valid JSON (syntax error at line 3, byte 17; fix the JSON there){Environment.NewLine}",
            stderr.ToString());
    }

    [Fact]
    public void Environment_and_command_line_override_the_file_in_that_order()
    {
        string file = WriteJson(Valid());
        try
        {
            var environment = new Dictionary<string, string> { ["LOADWISE_Strategy__Name"] = "LeastLoad", ["LOADWISE_Timeouts__ConnectMs"] = "1234", ["OTHER"] = "x" };
            List<string> problems = ProxyProgram.LoadAndValidate(new ConfigSources(file, null, ["--Timeouts:ConnectMs=999"]), environment, out ProxyOptions options);
            Assert.Empty(problems);
            Assert.Equal("LeastLoad", options.Strategy.Name);
            Assert.Equal(999, options.Timeouts.ConnectMs);
            Assert.Equal(2, options.Backends.Count);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Sample_config_is_valid()
    {
        string sample = Path.Combine(RepoRoot(), "samples", "loadwise.json");
        List<string> problems = ProxyProgram.LoadAndValidate(new ConfigSources(sample, null, []), new Dictionary<string, string>(), out ProxyOptions options);
        Assert.Empty(problems);
        Assert.Equal(3, options.Backends.Count);
    }

    [Theory]
    [InlineData(new string[0], 2)]
    [InlineData(new[] { "--help" }, 0)]
    [InlineData(new[] { "--version" }, 0)]
    [InlineData(new[] { "stray" }, 2)]
    [InlineData(new[] { "--config" }, 2)]
    [InlineData(new[] { "--demo", "--check-config", "x.json" }, 2)]
    [InlineData(new[] { "--demo", "--strategy", "Nope" }, 2)]
    public async Task Command_line_exit_codes(string[] args, int expected)
    {
        Assert.Equal(expected, await ProxyProgram.RunAsync(args, new StringWriter(), new StringWriter(), new Dictionary<string, string>()));
    }

    [Fact]
    public async Task A_valid_config_starts_the_proxy_and_exits_0_after_stop()
    {
        Dictionary<string, string?> config = Valid();
        config["Listen:0"] = "http://127.0.0.1:0";
        string file = WriteJson(config);
        string? url = null;
        int exit = await ProxyProgram.RunAsync(["--config", file], new StringWriter(), new StringWriter(), new Dictionary<string, string>(), server =>
        {
            url = server.Urls[0];
            return Task.CompletedTask;
        });
        File.Delete(file);
        Assert.Equal(ProxyProgram.ExitOk, exit);
        Assert.StartsWith("http://127.0.0.1:", url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_port_in_use_exits_3_with_one_line()
    {
        using var occupied = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        occupied.Start();
        Dictionary<string, string?> config = Valid();
        config["Listen:0"] = $"http://127.0.0.1:{((System.Net.IPEndPoint)occupied.LocalEndpoint).Port}";
        string file = WriteJson(config);
        var stderr = new StringWriter();
        int exit = await ProxyProgram.RunAsync(["--config", file], new StringWriter(), stderr, new Dictionary<string, string>(), _ => Task.CompletedTask);
        File.Delete(file);
        Assert.Equal(ProxyProgram.ExitStartFailed, exit);
        Assert.StartsWith("cannot start: Failed to bind to address", stderr.ToString(), StringComparison.Ordinal);
        Assert.Single(stderr.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }

    private static Dictionary<string, string?> Apply(string changes)
    {
        Dictionary<string, string?> config = Valid();
        foreach (string change in changes.Split('|'))
        {
            int equals = change.IndexOf('=', StringComparison.Ordinal);
            string key = change[..equals];
            string value = change[(equals + 1)..];
            if (value.Length == 0)
            {
                config.Remove(key);
            }
            else
            {
                config[key] = value;
            }
        }

        return config;
    }

    /// <summary>Writes flat key=value pairs as the nested JSON a user would write.</summary>
    private static string WriteJson(Dictionary<string, string?> flat)
    {
        var root = new System.Text.Json.Nodes.JsonObject();
        foreach ((string key, string? value) in flat)
        {
            string[] parts = key.Split(':');
            System.Text.Json.Nodes.JsonNode node = root;
            for (int i = 0; i < parts.Length; i++)
            {
                bool last = i == parts.Length - 1;
                bool nextIsIndex = !last && int.TryParse(parts[i + 1], out _);
                if (node is System.Text.Json.Nodes.JsonObject obj)
                {
                    if (last)
                    {
                        obj[parts[i]] = value;
                    }
                    else
                    {
                        node = obj[parts[i]] ??= nextIsIndex ? new System.Text.Json.Nodes.JsonArray() : new System.Text.Json.Nodes.JsonObject();
                    }
                }
                else
                {
                    var array = (System.Text.Json.Nodes.JsonArray)node;
                    int index = int.Parse(parts[i], System.Globalization.CultureInfo.InvariantCulture);
                    while (array.Count <= index)
                    {
                        array.Add(last ? null : nextIsIndex ? new System.Text.Json.Nodes.JsonArray() : new System.Text.Json.Nodes.JsonObject());
                    }

                    if (last)
                    {
                        array[index] = value;
                    }
                    else
                    {
                        node = array[index]!;
                    }
                }
            }
        }

        string file = Path.Combine(Path.GetTempPath(), $"loadwise-test-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, root.ToJsonString());
        return file;
    }

    internal static string RepoRoot() => Loadwise.Tests.Shared.RepositoryRoot.Path;
}
