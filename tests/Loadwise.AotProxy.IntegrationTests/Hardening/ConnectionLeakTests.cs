namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// Whatever fails (a response the proxy refuses, one Kestrel would refuse to write, a body that breaks off, a method the
/// proxy does not forward), no backend connection and no descriptor is left behind: after a batch of each bad case,
/// the backend's open connections and the process's descriptors come back to where they were, bar the pool's idle ones.
/// </summary>
public abstract class ConnectionLeakTests : HardeningTestBase
{
    private const int Batch = 20;

    private static readonly Dictionary<string, string> Answers = new()
    {
        ["/plus-length"] = "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
        ["/bad-name"] = "HTTP/1.1 200 OK\r\nX(y): 1\r\nContent-Length: 2\r\n\r\nok",
        ["/latin"] = "HTTP/1.1 200 OK\r\nX-Name: caf\u00e9\r\nContent-Length: 2\r\n\r\nok",
        ["/bad-chunk"] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ["/no-content-with-length"] = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
        ["/cut"] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part",
        ["/chunked-twice"] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
    };

    [Fact]
    public async Task No_bad_case_leaks_a_backend_connection_or_a_descriptor()
    {
        await using ScriptedBackend backend = Backend(async (stream, request) =>
        {
            await ScriptedBackend.WriteAsync(stream, Answers.GetValueOrDefault(request.Target, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
            return request.Target != "/cut";
        });
        // Passive health off: the bad answers would otherwise eject the backend before the batch is through.
        await using TestProxy proxy = await StartProxyAsync(backend, o => o.HealthChecks.Passive.Enabled = false);
        await AssertOthersServedAsync(proxy, clients: 2);
        int descriptorsBefore = Descriptors() - (2 * backend.OpenConnections);

        foreach (string target in Answers.Keys.Append("CONNECT").Append("OPTIONS"))
        {
            for (int i = 0; i < Batch; i++)
            {
                string request = target switch
                {
                    "CONNECT" => "CONNECT backend:443 HTTP/1.1\r\nHost: backend:443\r\n\r\n",
                    "OPTIONS" => "OPTIONS * HTTP/1.1\r\nHost: proxy\r\n\r\n",
                    _ => $"GET {target} HTTP/1.1\r\nHost: proxy\r\n\r\n",
                };
                using RawConnection client = await RawConnection.OpenAsync(proxy.Port);
                await client.SendAsync(request);
                try
                {
                    _ = await client.ReadResponseAsync(headRequest: false);
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                {
                    // A response cut off after it started (/cut): the proxy closes the client connection.
                }
            }
        }

        await AssertOthersServedAsync(proxy, clients: 2);
        TestContext.Current.TestOutputHelper?.WriteLine($"open at the backend: {backend.OpenConnections}, idle in the pool: {proxy.Server.IdleBackendConnections}");
        // Sequential requests need one pooled connection, two when the next request comes before the last connection is
        // back in the pool (it goes back after the response is written); a connection open outside the pool is a leak.
        await ScriptedBackend.WaitForAsync(
            () => backend.OpenConnections <= Math.Max(1, proxy.Server.IdleBackendConnections) && proxy.Server.IdleBackendConnections <= 2,
            $"the backend's open connections to come back (now {backend.OpenConnections}, {proxy.Server.IdleBackendConnections} idle in the pool)",
            15_000);
        await ScriptedBackend.WaitForAsync(
            () => Descriptors() <= descriptorsBefore + (2 * backend.OpenConnections),
            $"the descriptors to come back ({descriptorsBefore} sockets before, beside the pool's, {Descriptors()} now: {DescribeDescriptors()})",
            15_000);
    }

    /// <summary>The process's socket descriptors (files and pipes come and go as assemblies load and threads start).</summary>
    private static int Descriptors() => Directory.GetFiles("/proc/self/fd").Count(static f => new FileInfo(f).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true);

    private static string DescribeDescriptors() => string.Join(", ", Directory.GetFiles("/proc/self/fd")
        .Select(static f => new FileInfo(f).LinkTarget ?? "?")
        .GroupBy(static t => t.Split(':')[0])
        .Select(static g => $"{g.Key} x{g.Count()}"));
}

public sealed class ConnectionLeakOnEventLoopTests : ConnectionLeakTests
{
    protected override ProxyPath Path => ProxyPath.EventLoop;
}

public sealed class ConnectionLeakOnSocketTransportTests : ConnectionLeakTests
{
    protected override ProxyPath Path => ProxyPath.SocketTransport;
}

public sealed class ConnectionLeakOnKestrelTests : ConnectionLeakTests
{
    protected override ProxyPath Path => ProxyPath.Kestrel;
}

public sealed class ConnectionLeakOnHttpClientTests : ConnectionLeakTests
{
    protected override ProxyPath Path => ProxyPath.HttpClient;
}
