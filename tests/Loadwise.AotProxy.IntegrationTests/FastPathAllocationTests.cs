using System.Net;
using System.Net.Sockets;
using System.Text;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Hosting;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>
/// The proxy's own allocation per request on its event loop with many requests in flight, the way wrk drives it. The
/// client and the backend are raw blocking sockets with buffers made once, so they allocate nothing per request, and
/// what the process allocates over the measured rounds is the proxy's. (DirectHttp1Tests' raw backend and
/// FastPathTests' raw client parse into strings and await per request: right for what they check, but counted here.)
/// </summary>
[Collection(AllocationCollection.Name)]
public sealed class FastPathAllocationTests(ITestOutputHelper output)
{
    private const int Connections = 32;

    public static TheoryData<string, int, string> Requests => new()
    {
        // The request, the most it may allocate per request (a GET measured 0-8 B; a POST 1 KB 0-16 B), and the
        // strategy (PeakEwma adds a latency report per request, and runs here with slow start on).
        { "GET", 32, "RoundRobin" },
        { "POST", 64, "RoundRobin" },
        { "GET", 32, "PeakEwma" },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task Thirty_two_requests_in_flight_allocate_almost_nothing_per_request(string method, int limit, string strategy)
    {
        byte[] request = method == "GET"
            ? "GET / HTTP/1.1\r\nHost: raw\r\n\r\n"u8.ToArray()
            : [.. "POST / HTTP/1.1\r\nHost: raw\r\nContent-Length: 1024\r\n\r\n"u8, .. new byte[1024]];
        using var backend = new RawBackend();
        var options = new ProxyOptions();
        options.Listen.Add("http://127.0.0.1:0");
        options.Backends.Add(new BackendOptions { Id = "raw", Url = backend.Url });
        options.HealthChecks.Enabled = false; // probes allocate on a timer: not per request
        options.Strategy.Name = strategy;
        options.SlowStart.WindowMs = strategy == "PeakEwma" ? 30_000 : 0;
        Assert.Empty(ProxyOptionsValidator.Validate(options));
        await using ProxyServer server = ProxyServer.Create(options, handleSignals: false, consoleLogging: false);
        await server.StartAsync(TestContext.Current.CancellationToken);

        var clients = new Socket[Connections];
        var buffer = new byte[4096];
        try
        {
            for (int i = 0; i < clients.Length; i++)
            {
                clients[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                clients[i].Connect(new IPEndPoint(IPAddress.Loopback, new Uri(server.Urls[0]).Port));
            }

            // Warm-up: connections to the backend, tiered code, and the boxes. A request can start on one loop thread and
            // end on the other, which then keeps up to 256 boxes of its own before it shares any: those are made once.
            for (int round = 0; round < 400; round++)
            {
                Round(clients, buffer, request);
            }

            const int Rounds = 300;
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int round = 0; round < Rounds; round++)
            {
                Round(clients, buffer, request);
            }

            long perRequest = (GC.GetTotalAllocatedBytes(precise: true) - before) / (Rounds * Connections);
            output.WriteLine($"{method} ({strategy}): allocated per request with {Connections} in flight: {perRequest} B");
            // Before the router kept its boxes per thread: about 250 B (a box per request on most requests).
            Assert.InRange(perRequest, 0, limit);
        }
        finally
        {
            foreach (Socket? client in clients)
            {
                client?.Dispose();
            }
        }
    }

    /// <summary>One request on every connection, then every response: all of them in flight at once.</summary>
    private static void Round(Socket[] clients, byte[] buffer, byte[] request)
    {
        foreach (Socket client in clients)
        {
            client.Send(request);
        }

        foreach (Socket client in clients)
        {
            // No Assert calls on this path: xUnit's comparers box and build messages, which would be counted.
            int filled = 0;
            do
            {
                int read = client.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
                if (read == 0)
                {
                    Assert.Fail($"the proxy closed the connection; received so far: {Encoding.ASCII.GetString(buffer, 0, filled)}");
                }

                filled += read;
            }
            while (!buffer.AsSpan(0, filled).EndsWith("\r\n\r\nok"u8));

            if (!buffer.AsSpan(0, filled).StartsWith("HTTP/1.1 200 "u8))
            {
                Assert.Fail($"expected a 200, got: {Encoding.ASCII.GetString(buffer, 0, filled)}");
            }
        }
    }

    /// <summary>A backend answering every request (reading its Content-Length body) with a 2-byte body, a blocking thread per connection.</summary>
    private sealed class RawBackend : IDisposable
    {
        private static readonly byte[] Response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray();
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly List<Socket> _accepted = [];

        public RawBackend()
        {
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen(64);
            Url = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndPoint!).Port}";
            new Thread(Accept) { IsBackground = true, Name = "raw-backend-accept" }.Start();
        }

        public string Url { get; }

        public void Dispose()
        {
            _listener.Dispose();
            lock (_accepted)
            {
                _accepted.ForEach(socket => socket.Dispose());
            }
        }

        private void Accept()
        {
            try
            {
                while (true)
                {
                    Socket connection = _listener.Accept();
                    connection.NoDelay = true;
                    lock (_accepted)
                    {
                        _accepted.Add(connection);
                    }

                    new Thread(() => Serve(connection)) { IsBackground = true, Name = "raw-backend" }.Start();
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Disposed: the test is over.
            }
        }

        private static void Serve(Socket connection)
        {
            var buffer = new byte[16384];
            int filled = 0;
            try
            {
                while (true)
                {
                    int read = connection.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
                    if (read == 0)
                    {
                        return;
                    }

                    filled += read;
                    // One request at a time per connection: complete when the head and its Content-Length body are in.
                    int headEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
                    if (headEnd >= 0 && filled >= headEnd + 4 + BodyLength(buffer.AsSpan(0, headEnd)))
                    {
                        filled = 0;
                        connection.Send(Response);
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // The proxy closed the connection, or the test is over.
            }
        }

        /// <summary>The head's Content-Length, parsed without allocating; 0 when it has none.</summary>
        private static int BodyLength(ReadOnlySpan<byte> head)
        {
            int at = head.IndexOf("Content-Length: "u8);
            if (at < 0)
            {
                return 0;
            }

            int length = 0;
            for (int i = at + 16; i < head.Length && head[i] is >= (byte)'0' and <= (byte)'9'; i++)
            {
                length = (length * 10) + (head[i] - '0');
            }

            return length;
        }
    }
}

/// <summary>
/// Runs alone: the allocation tests read the process-wide allocation counter, which test classes running beside them
/// would add to (seen as 40-130 B per request in a full run against 0-3 B alone).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Process-wide allocation counter";
}
