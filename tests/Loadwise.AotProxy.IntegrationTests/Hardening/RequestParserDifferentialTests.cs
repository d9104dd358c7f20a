using System.Net;
using System.Net.Sockets;
using System.Text;
using Loadwise.AotProxy.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Loadwise.AotProxy.Downstream;
using Loadwise.AotProxy.Http;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// The fast path's request-head parser against Kestrel's, as the proxy runs it (bare LF refused, the proxy's request
/// rules applied): thousands of seeded mutations of valid heads. Whatever the fast path would serve itself, Kestrel
/// must accept too, and read the same method, target and header fields; anything else the fast path must hand over.
/// </summary>
public sealed class RequestParserDifferentialTests
{
    /// <summary>The seed; LOADWISE_FUZZ_SEED runs another (a longer search than CI's, with LOADWISE_FUZZ_CASES).</summary>
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("LOADWISE_FUZZ_SEED"), out int seed) ? seed : 20261206;

    private static readonly int Cases = int.TryParse(Environment.GetEnvironmentVariable("LOADWISE_FUZZ_CASES"), out int cases) ? cases : 6_000;

    private static readonly string[] Heads =
    [
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /path/to?x=1&y=2 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: t/1.0\r\nAccept: */*\r\n\r\n",
        "HEAD /a HTTP/1.1\r\nHost: [::1]:80\r\nX-A: 1\r\nX-A: 2\r\nConnection: keep-alive\r\n\r\n",
        "GET /a/b.c HTTP/1.1\r\nHost: 10.0.0.1\r\nCookie: a=b; c=d\r\nX-Forwarded-For: 1.2.3.4\r\nConnection: close\r\n\r\n",
        "GET /q?a=%20 HTTP/1.1\r\nhost: h_1.example\r\nX-Empty:\r\nX-Tab: a\tb\r\n\r\n",
    ];

    /// <summary>Bytes that tend to matter to an HTTP/1.1 parser.</summary>
    private static readonly byte[] Interesting = Encoding.Latin1.GetBytes("\r\n \t:\0\u007f\u0080\u00ff#%?/.[]@,;=\"\\aZ09-_~()");

    private static readonly string[] SingleHeaders = [ForwardedHeaders.ForwardedFor, ForwardedHeaders.ForwardedProto, ForwardedHeaders.ForwardedHost];

    [Fact]
    public async Task Whatever_the_fast_path_serves_Kestrel_accepts_and_reads_the_same_way()
    {
        AppContext.SetSwitch("Microsoft.AspNetCore.Server.Kestrel.DisableHttp1LineFeedTerminators", true);
        await using WebApplication kestrel = await StartEchoAsync();
        int port = new Uri(kestrel.Urls.First()).Port;
        var limits = new RequestHeadLimits(new KestrelServerLimits().MaxRequestLineSize, new KestrelServerLimits().MaxRequestHeadersTotalSize, new KestrelServerLimits().MaxRequestHeaderCount);
        var random = new Random(Seed);
        var parser = new RequestHead();
        int served = 0;
        var failures = new List<string>();
        for (int i = 0; i < Cases && failures.Count < 5; i++)
        {
            byte[] head = Mutate(Encoding.Latin1.GetBytes(Heads[random.Next(Heads.Length)]), random);
            if (parser.TryParse(head, limits, SingleHeaders) != RequestHeadParse.Simple)
            {
                continue;
            }

            served++;
            string expected = FastPathView(parser, head);
            (int status, string actual) = await KestrelViewAsync(port, head);
            if (status != 200 || actual != expected)
            {
                failures.Add($"case {i}: {Show(head)}\n  fast path: {expected}\n  Kestrel {status}: {actual}");
            }
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{Cases} mutated heads (seed {Seed}), {served} served by the fast path and checked against Kestrel");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(served > Cases / 10, $"only {served} mutations were served by the fast path: the mutations are too destructive to test much");
    }

    private static readonly string[] Hosts =
    [
        "a", "a:1", "a:", ":1", "a:b:c", "[::1]", "[::1", "[::1]:", "[::1]:8", "[1:2:3:4:5:6:7:8]:65535", "[::]", "a_b", "a..b", "-a",
        "a:65536", "a:0123456", "a b", "", "1.2.3.4:99999", "ex%41mple", "a@b", "[v1.x]", "xn--d1acufc.xn--p1ai", "a,b", "a;b", "[::1]x",
    ];

    private static readonly string[] Targets =
    [
        "/a?b#c", "/%2e%2e/", "/a/../b", "/./a", "//a", "/a;b", "/a?b=c&d", "/a b", "*", "http://x/a", "/a%00", "/a?%", "/~a", "/a\"b",
        "/a<b>", "/a{b}", "/a|b", "/a\\b", "/a^b", "/a`b", "/a?/.", "/a?b%zz", "/\u00e9", "/a\u007f", "/?", "/a?b?c", "/a@b:c", "/a!$&'()*+,;=",
    ];

    private static readonly string[] Names =
    [
        "X-A", "X A", "X(A)", "X@A", "X/A", "X{A}", "Content-Length", "Transfer-Encoding", "Expect", "Upgrade", "X-Forwarded-For",
        "X-Forwarded-Host", "Host", "X-\u00e9", "Connection", "X_A", "x-a", "!#$%&'*+-.^_`|~", "Cookie", "TE", "Keep-Alive",
    ];

    private static readonly string[] Values =
    [
        "", " a ", "a\tb", "a\u0001", "a\u007f", "\u00e9", "a,b", "\"q\"", "close", "keep-alive", "chunked", "100-continue", "0",
        "keep-alive, x-a", " ", "\t", "a\u0000b", "h2c",
    ];

    /// <summary>
    /// Applies one to three random edits: a Host, target or header line swapped for a tricky one, or a byte inserted,
    /// deleted or replaced, a line repeated, a name's case flipped. The first kind keeps most heads well-formed, so the
    /// fast path serves enough of them for the comparison to mean something.
    /// </summary>
    internal static byte[] Mutate(byte[] head, Random random)
    {
        string text = Encoding.Latin1.GetString(head);
        int edits = random.Next(1, 4);
        for (int e = 0; e < edits; e++)
        {
            string[] lines = text[..^4].Split("\r\n");
            switch (random.Next(10))
            {
                case 0:
                case 1:
                    int host = Array.FindIndex(lines, l => l.StartsWith("host:", StringComparison.OrdinalIgnoreCase));
                    if (host > 0)
                    {
                        lines[host] = lines[host][..5] + " " + Hosts[random.Next(Hosts.Length)];
                    }

                    break;
                case 2:
                case 3:
                    string[] parts = lines[0].Split(' ');
                    if (parts.Length == 3)
                    {
                        lines[0] = $"{parts[0]} {Targets[random.Next(Targets.Length)]} {parts[2]}";
                    }

                    break;
                case 4:
                case 5:
                    int at = random.Next(1, lines.Length + 1);
                    string name = Names[random.Next(Names.Length)];
                    string separator = random.Next(8) switch { 0 => " : ", 1 => ":", 2 => ":\t", _ => ": " };
                    lines = [.. lines[..at], name + separator + Values[random.Next(Values.Length)], .. lines[at..]];
                    break;
                default:
                    text = Encoding.Latin1.GetString(MutateBytes(Encoding.Latin1.GetBytes(text), random));
                    continue;
            }

            text = string.Join("\r\n", lines) + "\r\n\r\n";
        }

        return Encoding.Latin1.GetBytes(text);
    }

    private static byte[] MutateBytes(byte[] head, Random random)
    {
        var bytes = new List<byte>(head);
        // Inside the head, before its blank line, where the parsers differ.
        int position = random.Next(Math.Max(1, bytes.Count - 4));
        switch (random.Next(5))
        {
            case 0:
                bytes.Insert(position, Interesting[random.Next(Interesting.Length)]);
                break;
            case 1:
                bytes.RemoveAt(position);
                break;
            case 2:
                bytes[position] = Interesting[random.Next(Interesting.Length)];
                break;
            case 3:
                // Repeat the line the position is in.
                int start = bytes.LastIndexOf((byte)'\n', position) + 1;
                int end = bytes.IndexOf((byte)'\n', position);
                if (end > start)
                {
                    bytes.InsertRange(end + 1, bytes.GetRange(start, end - start + 1));
                }

                break;
            default:
                if (char.IsAsciiLetter((char)bytes[position]))
                {
                    bytes[position] ^= 0x20;
                }

                break;
        }

        return [.. bytes];
    }

    private static string FastPathView(RequestHead parser, byte[] head)
    {
        // Connection is hop-by-hop (never forwarded); the fast path's reading of it is its Close flag.
        var view = new StringBuilder();
        view.Append(parser.Method).Append(' ').Append(Encoding.Latin1.GetString(head, parser.TargetStart, parser.TargetLength));
        view.Append(parser.Close ? " close" : " keep-alive");
        foreach (var field in parser.Fields.ToArray()
            .Select(f => (Name: Encoding.Latin1.GetString(f.Name(head)).ToLowerInvariant(), Value: Encoding.Latin1.GetString(f.Value(head))))
            .Where(f => f.Name != "connection")
            .GroupBy(f => f.Name)
            .OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            view.Append('|').Append(field.Key).Append('=').Append(string.Join(",", field.Select(f => f.Value)));
        }

        return view.ToString();
    }

    private static async Task<(int Status, string View)> KestrelViewAsync(int port, byte[] head)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), TestContext.Current.CancellationToken);
        await socket.SendAsync(head, SocketFlags.None, TestContext.Current.CancellationToken);
        var reader = new WireReader(socket, TestContext.Current.CancellationToken);
        (byte[] bytes, _) = await reader.ReadToEndAsync(TimeSpan.FromSeconds(10));
        string response = Encoding.Latin1.GetString(bytes);
        int status = response.Length >= 12 ? int.Parse(response.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture) : 0;
        string? view = response.Split("\r\n").FirstOrDefault(l => l.StartsWith("X-View: ", StringComparison.Ordinal));
        return (status, view is null ? response : Encoding.UTF8.GetString(Convert.FromBase64String(view[8..])));
    }

    /// <summary>A Kestrel server with the proxy's limits that answers each request with how it read it, then closes.</summary>
    private static async Task<WebApplication> StartEchoAsync()
    {
        WebApplicationBuilder builder = EmptyWebHost.CreateBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        WebApplication app = builder.Build();
        app.Run(async context =>
        {
            context.Response.Headers.Connection = "close";
            if (RequestRules.Check(context, asteriskFormSupported: true) is { } refusal)
            {
                context.Response.StatusCode = refusal.Status;
                return;
            }

            var view = new StringBuilder();
            view.Append(context.Request.Method).Append(' ').Append(context.Features.Get<IHttpRequestFeature>()!.RawTarget);
            view.Append(context.Request.Headers.Connection.Any(v => v?.Contains("close", StringComparison.OrdinalIgnoreCase) == true) ? " close" : " keep-alive");
            foreach (var header in context.Request.Headers.Where(h => !h.Key.Equals("Connection", StringComparison.OrdinalIgnoreCase)).OrderBy(h => h.Key.ToLowerInvariant(), StringComparer.Ordinal))
            {
                view.Append('|').Append(header.Key.ToLowerInvariant()).Append('=').Append(string.Join(",", header.Value.ToArray()));
            }

            // In a header, so that HEAD answers carry it too.
            context.Response.Headers["X-View"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(view.ToString()));
            context.Response.ContentLength = 0;
            await context.Response.CompleteAsync();
        });
        await app.StartAsync(TestContext.Current.CancellationToken);
        return app;
    }

    private static string Show(byte[] head) => Encoding.Latin1.GetString(head).Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
