using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using Grpc.Core;
using Grpc.Net.Client;
using Loadwise.AotProxy.IntegrationTests.GrpcEcho;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

// usage: dotnet run -c Release --project bench/protocols -- <loadwise-proxy binary> [rounds] [calls]
string binary = args.Length > 0 ? args[0] : "artifacts/aot/loadwise-proxy";
int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
int calls = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2000;
const int GrpcBackend = 9281, WsBackend = 9282, GrpcProxy = 9283, WsProxy = 9284;

await using WebApplication grpc = await StartAsync(GrpcBackend, HttpProtocols.Http2, app => app.MapGrpcService<Echoer>(), s => s.AddGrpc());
await using WebApplication ws = await StartAsync(WsBackend, HttpProtocols.Http1, app =>
{
    app.UseWebSockets();
    app.Run(EchoAsync);
}, null);

string folder = Directory.CreateTempSubdirectory("loadwise-protocol-bench-").FullName;
string grpcConfig = Path.Combine(folder, "grpc.json");
File.WriteAllText(grpcConfig, $$"""
{ "Listen": [ "http://127.0.0.1:{{GrpcProxy}}" ], "Http2": { "CleartextListen": [ "http://127.0.0.1:{{GrpcProxy}}" ] },
  "Backends": [ { "Id": "grpc", "Url": "http://127.0.0.1:{{GrpcBackend}}", "Http2": true } ],
  "HealthChecks": { "Enabled": false }, "Log": { "Level": "Warning" } }
""");
string wsConfig = Path.Combine(folder, "ws.json");
File.WriteAllText(wsConfig, $$"""
{ "Listen": [ "http://127.0.0.1:{{WsProxy}}" ], "Backends": [ { "Id": "ws", "Url": "http://127.0.0.1:{{WsBackend}}" } ],
  "HealthChecks": { "Enabled": false }, "Log": { "Level": "Warning" } }
""");
using Process grpcProxy = Process.Start(binary, ["--config", grpcConfig])!;
using Process wsProxy = Process.Start(binary, ["--config", wsConfig])!;
try
{
    await Task.Delay(1500);
    string load = File.ReadAllText("/proc/loadavg").Trim();
    Console.WriteLine($"# {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, load before: {load}");

    // gRPC unary: sequential calls, one channel each; rounds alternate which goes first.
    var p50 = new Dictionary<string, List<double>> { ["direct"] = [], ["proxy"] = [] };
    var p99 = new Dictionary<string, List<double>> { ["direct"] = [], ["proxy"] = [] };
    for (int round = 0; round < rounds; round++)
    {
        foreach (string row in round % 2 == 0 ? new[] { "direct", "proxy" } : ["proxy", "direct"])
        {
            int port = row == "direct" ? GrpcBackend : GrpcProxy;
            using GrpcChannel channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
            var client = new Echo.EchoClient(channel);
            for (int i = 0; i < 200; i++)
            {
                await client.UnaryAsync(new EchoMessage { Text = "warm" });
            }

            double[] ms = new double[calls];
            for (int i = 0; i < calls; i++)
            {
                long start = Stopwatch.GetTimestamp();
                await client.UnaryAsync(new EchoMessage { Text = "hello" });
                ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }

            Array.Sort(ms);
            p50[row].Add(ms[calls / 2]);
            p99[row].Add(ms[(int)(calls * 0.99)]);
            Console.WriteLine($"grpc round {round + 1} {row}: p50 {ms[calls / 2]:F3} ms, p99 {ms[(int)(calls * 0.99)]:F3} ms");
        }
    }

    // WebSocket echo: one socket, 64-byte messages sent as fast as they go while a reader takes the echoes.
    var rates = new Dictionary<string, List<double>> { ["direct"] = [], ["proxy"] = [] };
    int messages = calls * 10;
    for (int round = 0; round < rounds; round++)
    {
        foreach (string row in round % 2 == 0 ? new[] { "direct", "proxy" } : ["proxy", "direct"])
        {
            using var socket = new ClientWebSocket();
            await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{(row == "direct" ? WsBackend : WsProxy)}/ws"), CancellationToken.None);
            byte[] payload = new byte[64];
            long start = Stopwatch.GetTimestamp();
            Task send = Task.Run(async () =>
            {
                for (int i = 0; i < messages; i++)
                {
                    await socket.SendAsync(payload, WebSocketMessageType.Binary, true, CancellationToken.None);
                }
            });
            byte[] buffer = new byte[4096];
            for (int got = 0; got < messages;)
            {
                WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                got += result.EndOfMessage ? 1 : 0;
            }

            await send;
            double rate = messages / Stopwatch.GetElapsedTime(start).TotalSeconds;
            rates[row].Add(rate);
            Console.WriteLine($"websocket round {round + 1} {row}: {rate:F0} messages/s each way");
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        }
    }

    Console.WriteLine($"# load after: {File.ReadAllText("/proc/loadavg").Trim()}");
    Console.WriteLine("| row | gRPC unary p50 ms (median of rounds) | gRPC unary p99 ms | WebSocket echo messages/s |");
    Console.WriteLine("|---|---:|---:|---:|");
    foreach (string row in new[] { "direct", "proxy" })
    {
        Console.WriteLine($"| {row} | {Median(p50[row]):F3} | {Median(p99[row]):F3} | {Median(rates[row]):F0} |");
    }

    Console.WriteLine($"| added by the proxy | {Median(p50["proxy"]) - Median(p50["direct"]):F3} | {Median(p99["proxy"]) - Median(p99["direct"]):F3} | {Median(rates["proxy"]) / Median(rates["direct"]):P0} of direct |");
}
finally
{
    grpcProxy.Kill();
    wsProxy.Kill();
    Directory.Delete(folder, recursive: true);
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}

static async Task<WebApplication> StartAsync(int port, HttpProtocols protocols, Action<WebApplication> map, Action<IServiceCollection>? services)
{
    WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    services?.Invoke(builder.Services);
    builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, l => l.Protocols = protocols));
    WebApplication app = builder.Build();
    map(app);
    await app.StartAsync();
    return app;
}

static async Task EchoAsync(HttpContext context)
{
    using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
    byte[] buffer = new byte[64 * 1024];
    while (true)
    {
        WebSocketReceiveResult received = await socket.ReceiveAsync(buffer, CancellationToken.None);
        if (received.MessageType == WebSocketMessageType.Close)
        {
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            return;
        }

        await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, CancellationToken.None);
    }
}

/// <summary>The unary echo the benchmark calls.</summary>
internal sealed class Echoer : Echo.EchoBase
{
    public override Task<EchoMessage> Unary(EchoMessage request, ServerCallContext context) => Task.FromResult(new EchoMessage { Text = request.Text });
}
