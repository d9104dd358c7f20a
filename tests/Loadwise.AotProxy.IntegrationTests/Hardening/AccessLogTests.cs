using System.Text.Json;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// The access log on each path: one line per request with what happened to it, failures and refusals included, no line
/// a client can forge, and a reopen after logrotate's rename.
/// </summary>
public abstract class AccessLogTests : HardeningTestBase, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("loadwise-access-").FullName;

    private string LogFile => System.IO.Path.Combine(_folder, "access.log");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Each_request_gets_one_line_with_its_fields()
    {
        await using ScriptedBackend backend = Backend(ScriptedBackend.Own);
        await using TestProxy proxy = await StartProxyAsync(backend, o =>
        {
            o.AccessLog.Enabled = true;
            o.AccessLog.Format = "json";
            o.AccessLog.Path = LogFile;
            o.AccessLog.Fields.AddRange(["time", "client", "method", "path", "query", "status", "backend", "upstream_ms", "total_ms", "bytes", "retries"]);
        });

        string[] targets = [.. Enumerable.Range(0, 3).Select(i => $"/own/{Guid.NewGuid():N}")];
        foreach (string target in targets)
        {
            WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, $"GET {target}?page={target.Length} HTTP/1.1\r\nHost: proxy\r\n\r\n");
            Assert.Equal(200, response!.Status);
        }

        // A line is written as its request ends, after the response went out: the next request's may come first.
        JsonElement[] lines = [.. (await LinesAsync(3)).Select(static l => JsonDocument.Parse(l).RootElement)];
        for (int i = 0; i < 3; i++)
        {
            JsonElement line = Assert.Single(lines, l => l.GetProperty("path").GetString() == targets[i]);
            Assert.Equal("127.0.0.1", line.GetProperty("client").GetString());
            Assert.Equal("GET", line.GetProperty("method").GetString());
            Assert.Equal(targets[i], line.GetProperty("path").GetString());
            Assert.Equal($"?page={targets[i].Length}", line.GetProperty("query").GetString());
            Assert.Equal(200, line.GetProperty("status").GetInt32());
            Assert.Equal("scripted", line.GetProperty("backend").GetString());
            Assert.Equal(("own:" + targets[i] + $"?page={targets[i].Length}").Length, line.GetProperty("bytes").GetInt64());
            Assert.Equal(0, line.GetProperty("retries").GetInt32());
            double upstream = line.GetProperty("upstream_ms").GetDouble(), total = line.GetProperty("total_ms").GetDouble();
            Assert.True(upstream > 0 && upstream <= total, $"upstream {upstream} ms, total {total} ms");
            Assert.True(DateTimeOffset.UtcNow - line.GetProperty("time").GetDateTimeOffset() < TimeSpan.FromMinutes(1));
        }
    }

    [Fact]
    public async Task A_target_that_could_forge_a_line_stays_one_escaped_line()
    {
        await using ScriptedBackend backend = Backend(ScriptedBackend.Own);
        await using TestProxy proxy = await StartProxyAsync(backend, o =>
        {
            o.AccessLog.Enabled = true;
            o.AccessLog.Path = LogFile;
        });

        // Percent-encoded on the wire; Kestrel's path decodes it to a line break and a quote, the codec keeps it as sent.
        WireResponse? response = await RawConnection.ExchangeAsync(proxy.Port, "GET /own/a%0A%22forged%22%20200%201 HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal(200, response!.Status);
        await AssertOthersServedAsync(proxy);

        // A line is written when its request ends, so the other clients' lines may come first.
        string[] lines = await LinesAsync(5);
        string forged = Assert.Single(lines, l => l.Contains("forged", StringComparison.Ordinal));
        Assert.StartsWith("127.0.0.1 - - [", forged, StringComparison.Ordinal);
        Assert.Equal(2, forged.Count(c => c == '"'));
        Assert.Matches("^127\\.0\\.0\\.1 - - \\[[^]]+\\] \"GET /own/a(%0A%22|\\\\x0A\\\\x22)forged\\S* HTTP/1\\.1\" 200 \\d+ backend=scripted ", forged);
        Assert.All(lines, l => Assert.Contains("\"GET /own/", l, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_request_refused_before_routing_gets_a_line_without_a_backend()
    {
        await using ScriptedBackend backend = Backend(ScriptedBackend.Own);
        await using TestProxy proxy = await StartProxyAsync(backend, o =>
        {
            o.AccessLog.Enabled = true;
            o.AccessLog.Path = LogFile;
        });

        // A dot segment above the root: the request rules answer 400 and close the connection.
        WireResponse? refused = await RawConnection.ExchangeAsync(proxy.Port, "GET /../etc/passwd HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal(400, refused!.Status);
        await AssertOthersServedAsync(proxy);

        string[] lines = await LinesAsync(5);
        string line = Assert.Single(lines, l => l.Contains("passwd", StringComparison.Ordinal));
        Assert.Matches($"^127\\.0\\.0\\.1 - - \\[[^]]+\\] \"GET /\\S*passwd HTTP/1\\.1\" 400 {refused.Body.Length} backend=- upstream_ms=0\\.000 total_ms=\\S+ retries=0$", line);
        Assert.DoesNotContain(backend.Requests, r => r.Target.Contains("passwd", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failed_request_is_logged_with_its_status_and_backend_and_a_refused_one_without_a_backend()
    {
        // The backend closes without answering: 502. Then the rate limit refuses the next request: 429.
        await using ScriptedBackend backend = Backend(static (_, _) => Task.FromResult(false));
        await using TestProxy proxy = await StartProxyAsync(backend, o =>
        {
            o.AccessLog.Enabled = true;
            o.AccessLog.Path = LogFile;
            o.RateLimiting.Enabled = true;
            o.RateLimiting.Burst = 1;
            o.RateLimiting.TokensPerSecond = 1;
        });

        WireResponse? failed = await RawConnection.ExchangeAsync(proxy.Port, "GET /close HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal(502, failed!.Status);
        WireResponse? limited = await RawConnection.ExchangeAsync(proxy.Port, "GET /own/x HTTP/1.1\r\nHost: proxy\r\n\r\n");
        Assert.Equal(429, limited!.Status);

        string[] lines = await LinesAsync(2);
        // Lines are written as requests end, so they are found by content, not by position.
        Assert.Matches($"\"GET /close HTTP/1.1\" 502 {failed.Body.Length} backend=scripted upstream_ms=\\S+ total_ms=\\S+ retries=0$", Assert.Single(lines, l => l.Contains("/close", StringComparison.Ordinal)));
        Assert.Matches($"\"GET /own/x HTTP/1.1\" 429 {limited.Body.Length} backend=- upstream_ms=0.000 total_ms=\\S+ retries=0$", Assert.Single(lines, l => l.Contains("/own/x", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task After_a_rename_and_a_reopen_lines_go_to_the_new_file()
    {
        await using ScriptedBackend backend = Backend(ScriptedBackend.Own);
        await using TestProxy proxy = await StartProxyAsync(backend, o =>
        {
            o.AccessLog.Enabled = true;
            o.AccessLog.Path = LogFile;
        });

        await AssertOthersServedAsync(proxy, clients: 1);
        await LinesAsync(1);
        File.Move(LogFile, LogFile + ".1");
        proxy.Server.AccessLog!.Reopen();
        await AssertOthersServedAsync(proxy, clients: 2);

        Assert.Equal(2, (await LinesAsync(2)).Length);
        Assert.Single(await File.ReadAllLinesAsync(LogFile + ".1", Ct));
    }

    /// <summary>Waits for the writer thread to have written <paramref name="count"/> lines, and no more.</summary>
    private async Task<string[]> LinesAsync(int count)
    {
        string[] lines = [];
        await ScriptedBackend.WaitForAsync(
            () => File.Exists(LogFile) && (lines = ReadShared(LogFile)).Length >= count,
            $"{count} access-log lines",
            10_000);
        Assert.Equal(count, lines.Length);
        return lines;
    }

    private static string[] ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}

public sealed class AccessLogOnEventLoopTests : AccessLogTests
{
    protected override ProxyPath Path => ProxyPath.EventLoop;
}

public sealed class AccessLogOnSocketTransportTests : AccessLogTests
{
    protected override ProxyPath Path => ProxyPath.SocketTransport;
}

public sealed class AccessLogOnKestrelTests : AccessLogTests
{
    protected override ProxyPath Path => ProxyPath.Kestrel;
}

public sealed class AccessLogOnHttpClientTests : AccessLogTests
{
    protected override ProxyPath Path => ProxyPath.HttpClient;
}

public sealed class AccessLogDefaultsTests
{
    [Fact]
    public async Task The_access_log_is_off_by_default()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(backendCount: 1);
        Assert.Null(proxy.Server.AccessLog);
        Assert.False(new Configuration.ProxyOptions().AccessLog.Enabled);
    }
}
