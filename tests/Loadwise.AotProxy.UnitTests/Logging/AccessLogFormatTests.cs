using System.Net;
using System.Text.Json;
using Loadwise.AotProxy.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Loadwise.AotProxy.UnitTests.Logging;

/// <summary>The access log's two formats, its field selection, and its escaping of what clients sent.</summary>
public sealed class AccessLogFormatTests
{
    private static readonly DateTimeOffset Time = new(2026, 12, 6, 5, 52, 0, 123, TimeSpan.Zero);
    private static readonly AccessLogEntry Entry = new(200, "b1", 0.4121, 0.5309, 1234, 1);

    [Fact]
    public void Common_is_apache_common_then_the_proxy_fields()
    {
        using AccessLog log = Log(json: false, []);
        Assert.Equal(
            "10.0.0.7 - - [06/Dec/2026:05:52:00 +0000] \"GET /api/items HTTP/1.1\" 200 1234 backend=b1 upstream_ms=0.412 total_ms=0.531 retries=1",
            log.Format(Time, IPAddress.Parse("10.0.0.7"), "GET", "/api/items", "?token=secret", "HTTP/1.1", Entry));
    }

    [Fact]
    public void Common_with_fields_left_out_shows_dashes_and_the_query_only_when_listed()
    {
        using AccessLog log = Log(json: false, ["status", "path", "query", "total_ms"]);
        Assert.Equal(
            "- - - - \"- /api/items?page=2 HTTP/1.1\" 200 - total_ms=0.531",
            log.Format(Time, IPAddress.Parse("10.0.0.7"), "GET", "/api/items", "?page=2", "HTTP/1.1", Entry));
    }

    [Fact]
    public void Json_has_the_listed_fields_in_order_and_parses()
    {
        using AccessLog log = Log(json: true, ["time", "client", "method", "path", "status", "backend", "upstream_ms", "total_ms", "bytes", "retries"]);
        string line = log.Format(Time, IPAddress.Parse("::ffff:10.0.0.7"), "POST", "/upload", "", "HTTP/1.1", Entry);
        Assert.Equal(
            """{"time":"2026-12-06T05:52:00.123Z","client":"10.0.0.7","method":"POST","path":"/upload","status":200,"backend":"b1","upstream_ms":0.412,"total_ms":0.531,"bytes":1234,"retries":1}""",
            line);
        using JsonDocument parsed = JsonDocument.Parse(line);
        Assert.Equal(10, parsed.RootElement.EnumerateObject().Count());
    }

    [Fact]
    public void Json_without_a_backend_or_client_writes_null()
    {
        using AccessLog log = Log(json: true, ["client", "status", "backend"]);
        Assert.Equal("""{"client":null,"status":503,"backend":null}""", log.Format(Time, null, "GET", "/", "", "HTTP/1.1", new AccessLogEntry(503, null, 0, 0.1, 24, 0)));
    }

    [Theory]
    [InlineData("/a\nb", "/a\\x0Ab")]
    [InlineData("/a\" 200 9 backend=forged", "/a\\x22\\x20200\\x209\\x20backend=forged")]
    [InlineData("/caf\u00e9\\", "/caf\\xC3\\xA9\\x5C")]
    [InlineData("/\u001b[31mred", "/\\x1B[31mred")]
    public void Common_escapes_what_could_forge_a_line_or_a_field(string path, string shown)
    {
        using AccessLog log = Log(json: false, ["path"]);
        string line = log.Format(Time, null, "GET", path, "", "HTTP/1.1", Entry);
        Assert.Equal($"- - - - \"- {shown} HTTP/1.1\" - -", line);
        Assert.DoesNotContain('\n', line);
    }

    [Theory]
    [InlineData("/a\nb\"c\\d\u00e9")]
    [InlineData("/\u0000\u007f\ud800")]
    public void Json_escapes_to_ascii_and_round_trips(string path)
    {
        using AccessLog log = Log(json: true, ["path"]);
        string line = log.Format(Time, null, "GET", path, "", "HTTP/1.1", Entry);
        Assert.True(line.All(c => c is >= ' ' and < '\x7f'), line);
        if (!path.Contains('\ud800', StringComparison.Ordinal))
        {
            Assert.Equal(path, JsonDocument.Parse(line).RootElement.GetProperty("path").GetString());
        }
    }

    [Fact]
    public void A_long_path_is_cut_and_the_line_says_so()
    {
        using AccessLog common = Log(json: false, ["path"]);
        string path = "/" + new string('a', 5_000);
        string line = common.Format(Time, null, "GET", path, "", "HTTP/1.1", Entry);
        Assert.Equal($"- - - - \"- /{new string('a', AccessLog.MaxFieldChars - 1)} HTTP/1.1\" - - truncated=1", line);

        using AccessLog json = Log(json: true, ["path"]);
        using JsonDocument parsed = JsonDocument.Parse(json.Format(Time, null, "GET", path, "", "HTTP/1.1", Entry));
        Assert.Equal(AccessLog.MaxFieldChars, parsed.RootElement.GetProperty("path").GetString()!.Length);
        Assert.True(parsed.RootElement.GetProperty("truncated").GetBoolean());
    }

    [Fact]
    public void Written_lines_are_the_formatted_lines_byte_for_byte_short_and_long()
    {
        // Write formats into a per-thread buffer, a long escaped line into a pooled one: both must give Format's text.
        var time = new FakeTimeProvider(Time);
        var output = new MemoryStream();
        string shortPath = "/caf\u00e9?x", longPath = "/" + string.Concat(Enumerable.Repeat("\u00e9\n", 1_500));
        string expected;
        using (var log = new AccessLog(json: false, AccessLog.ParseFields([]), new LineWriter(LineWriter.Keep(output), 16, null, "test"), time))
        {
            log.Write(IPAddress.Loopback, "GET", shortPath, "", "HTTP/1.1", Entry);
            log.Write(IPAddress.Loopback, "GET", longPath, "", "HTTP/1.1", Entry);
            expected = log.Format(Time, IPAddress.Loopback, "GET", shortPath, "", "HTTP/1.1", Entry) + "\n"
                + log.Format(Time, IPAddress.Loopback, "GET", longPath, "", "HTTP/1.1", Entry) + "\n";
        }

        Assert.Equal(expected, System.Text.Encoding.ASCII.GetString(output.ToArray()));
        Assert.Contains("truncated=1", expected, StringComparison.Ordinal);
    }

    [Fact]
    public void A_field_listed_twice_is_refused_by_name_and_written_once()
    {
        // A repeated field would be written twice while the line's buffer is sized for each once.
        var options = new Loadwise.AotProxy.Configuration.ProxyOptions();
        options.Listen.Add("http://127.0.0.1:3000");
        options.Backends.Add(new Loadwise.AotProxy.Configuration.BackendOptions { Id = "b1", Url = "http://127.0.0.1:8081" });
        options.AccessLog.Fields.AddRange(["path", "status", "path"]);
        Assert.Equal(
            ["AccessLog:Fields:2: 'path' is listed twice, expected each field at most once (remove the repeat)"],
            Loadwise.AotProxy.Configuration.ProxyOptionsValidator.Validate(options));
        Assert.Equal([AccessLogField.Path, AccessLogField.Status], AccessLog.ParseFields(["path", "status", "path"]));
    }

    [Fact]
    public void A_long_method_and_a_long_escaped_path_in_json_fit_the_line()
    {
        // Worst case per character: a method as long as an HTTP/2 header block allows, a path of non-ASCII characters.
        var output = new MemoryStream();
        string method = new('\u00e9', 40_000), path = "/" + new string('\u00e9', 5_000);
        using (var log = new AccessLog(json: true, AccessLog.ParseFields([]), new LineWriter(LineWriter.Keep(output), 16, null, "test"), new FakeTimeProvider(Time)))
        {
            log.Write(IPAddress.Loopback, method, path, "?q=" + path, "HTTP/2", Entry);
        }

        using JsonDocument line = JsonDocument.Parse(System.Text.Encoding.ASCII.GetString(output.ToArray()));
        Assert.Equal(AccessLog.MaxMethodChars, line.RootElement.GetProperty("method").GetString()!.Length);
        Assert.True(line.RootElement.GetProperty("truncated").GetBoolean());
    }

    [Fact]
    public void No_fields_listed_means_every_field_but_the_query()
    {
        AccessLogField[] fields = AccessLog.ParseFields([]);
        Assert.DoesNotContain(AccessLogField.Query, fields);
        Assert.Equal(Enum.GetValues<AccessLogField>().Length - 1, fields.Length);
        Assert.Equal([AccessLogField.Bytes, AccessLogField.Query], AccessLog.ParseFields(["bytes", "query"]));
    }

    private static AccessLog Log(bool json, string[] fields) =>
        new(json, AccessLog.ParseFields(fields), new LineWriter(() => Stream.Null, 16, null, "test"), TimeProvider.System);
}
