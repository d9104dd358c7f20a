using System.Buffers.Binary;
using System.Net;
using BenchmarkDotNet.Attributes;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Loadwise.Grpc;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Loadwise.Benchmarks;

/// <summary>
/// What a Loadwise gRPC policy adds per unary call against gRPC's own <c>round_robin</c>: the same three Kestrel
/// servers on 127.0.0.1 (h2c), one channel per policy over a static resolver, each call a 4-byte message answered at
/// once. The servers answer gRPC framing by hand and the client calls through a hand-made <see cref="Method{TRequest,
/// TResponse}"/>, so no generated code is involved. Every Loadwise channel has <see cref="LoadwiseGrpcHandler"/> in
/// its chain (status reading included in the cost); the baseline has a plain SocketsHttpHandler. The short job runs
/// in process: on the shared 2-core machine a separate benchmark build of this project ran past BenchmarkDotNet's
/// two-minute build limit.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[Config(typeof(BenchmarkJobs.InProcessShortRun))]
public class GrpcBalancerBenchmarks
{
    private static readonly Method<byte[], byte[]> Call = new(
        MethodType.Unary, "bench.Lobby", "Join", Marshallers.Create(static b => b, static b => b), Marshallers.Create(static b => b, static b => b));

    private static readonly byte[] Request = [1, 2, 3, 4];
    private static readonly Metadata PlayerHeader = new() { { "player-id", "player-42" } };

    private readonly List<WebApplication> _servers = [];
    private readonly List<GrpcChannel> _channels = [];
    private ServiceProvider _services = null!;
    private CallInvoker _grpcRoundRobin = null!;
    private CallInvoker _roundRobin = null!;
    private CallInvoker _p2c = null!;
    private CallInvoker _leastRequest = null!;
    private CallInvoker _ringHash = null!;

    [GlobalSetup]
    public void Setup()
    {
        var addresses = new List<BalancerAddress>();
        for (int i = 0; i < 3; i++)
        {
            addresses.Add(new BalancerAddress("127.0.0.1", StartServer()));
        }

        var services = new ServiceCollection();
        services.AddLoadwiseGrpcBalancers();
        services.AddSingleton<ResolverFactory>(new StaticResolverFactory(_ => addresses));
        _services = services.BuildServiceProvider();
        _grpcRoundRobin = Channel(new RoundRobinConfig(), new SocketsHttpHandler { EnableMultipleHttp2Connections = true });
        _roundRobin = Channel(new LoadwiseBalancingConfig(LoadwisePolicies.RoundRobin), new LoadwiseGrpcHandler());
        _p2c = Channel(new LoadwiseBalancingConfig(LoadwisePolicies.PowerOfTwoChoices), new LoadwiseGrpcHandler());
        _leastRequest = Channel(new LoadwiseBalancingConfig(LoadwisePolicies.LeastRequest), new LoadwiseGrpcHandler());
        _ringHash = Channel(new LoadwiseBalancingConfig(LoadwisePolicies.RingHash) { HashHeader = "player-id" }, new LoadwiseGrpcHandler());

        // Connect every subchannel before measuring.
        foreach (CallInvoker invoker in new[] { _grpcRoundRobin, _roundRobin, _p2c, _leastRequest, _ringHash })
        {
            for (int i = 0; i < 200; i++)
            {
                invoker.AsyncUnaryCall(Call, null, new CallOptions(PlayerHeader), Request).ResponseAsync.GetAwaiter().GetResult();
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (GrpcChannel channel in _channels)
        {
            channel.Dispose();
        }

        foreach (WebApplication server in _servers)
        {
            server.StopAsync().GetAwaiter().GetResult();
        }

        _services.Dispose();
    }

    [Benchmark(Baseline = true)]
    public Task<byte[]> GrpcRoundRobin() => _grpcRoundRobin.AsyncUnaryCall(Call, null, default, Request).ResponseAsync;

    [Benchmark]
    public Task<byte[]> LoadwiseRoundRobin() => _roundRobin.AsyncUnaryCall(Call, null, default, Request).ResponseAsync;

    [Benchmark]
    public Task<byte[]> LoadwisePowerOfTwoChoices() => _p2c.AsyncUnaryCall(Call, null, default, Request).ResponseAsync;

    [Benchmark]
    public Task<byte[]> LoadwiseLeastRequest() => _leastRequest.AsyncUnaryCall(Call, null, default, Request).ResponseAsync;

    [Benchmark]
    public Task<byte[]> LoadwiseRingHash() => _ringHash.AsyncUnaryCall(Call, null, new CallOptions(PlayerHeader), Request).ResponseAsync;

    private CallInvoker Channel(LoadBalancingConfig policy, HttpMessageHandler handler)
    {
        var channel = GrpcChannel.ForAddress("static:///bench", new GrpcChannelOptions
        {
            Credentials = ChannelCredentials.Insecure,
            ServiceProvider = _services,
            ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { policy } },
            HttpHandler = handler,
        });
        _channels.Add(channel);
        return channel.CreateCallInvoker();
    }

    private int StartServer()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        WebApplication app = builder.Build();
        app.MapPost("/bench.Lobby/Join", AnswerAsync);
        app.StartAsync().GetAwaiter().GetResult();
        _servers.Add(app);
        return new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()).Port;
    }

    // One length-prefixed message back (the request's bytes), then grpc-status 0 in the trailers.
    private static async Task AnswerAsync(HttpContext context)
    {
        var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        byte[] message = body.Length >= 5 ? body.GetBuffer().AsSpan(5, (int)body.Length - 5).ToArray() : [];
        context.Response.ContentType = "application/grpc";
        context.Response.AppendTrailer("grpc-status", "0");
        byte[] frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        await context.Response.Body.WriteAsync(frame);
    }
}
