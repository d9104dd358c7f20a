using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.IntegrationTests.GrpcEcho;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Loadwise.AotProxy.IntegrationTests.Protocols;

/// <summary>
/// gRPC through the proxy, end to end: a Grpc.Net.Client client on an h2c listener, a Grpc.AspNetCore backend marked
/// Http2. Unary, server, client and bidirectional streaming; status, message and custom trailers relayed; the deadline
/// reaches the backend, and a call the client gives up at its deadline is cancelled on the backend too.
/// </summary>
public sealed class GrpcPassthroughTests : IAsyncLifetime
{
    private readonly EchoObservations _seen = new();
    private ProtocolBackend? _backend;
    private TestProxy? _proxy;
    private GrpcChannel? _channel;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Echo.EchoClient Client => new(_channel!);

    public async ValueTask InitializeAsync()
    {
        _backend = await ProtocolBackend.StartAsync(
            HttpProtocols.Http2,
            services: services =>
            {
                services.AddGrpc();
                services.AddSingleton(_seen);
            },
            map: static app => app.MapGrpcService<EchoService>());
        _proxy = await TestProxy.StartAsync(
            o =>
            {
                o.Backends.Clear();
                o.Backends.Add(new BackendOptions { Id = "grpc", Url = _backend.Url, Http2 = true });
                o.Http2.CleartextListen.Add("http://127.0.0.1:0");
            },
            backendCount: 1);
        _channel = GrpcChannel.ForAddress(_proxy.BaseUri, new GrpcChannelOptions { HttpHandler = TestProxy.NewHandler() });
    }

    public async ValueTask DisposeAsync()
    {
        _channel?.Dispose();
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }

        if (_backend is not null)
        {
            await _backend.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_unary_call_goes_through_over_HTTP_2_with_its_trailers()
    {
        byte[] payload = new byte[100_000];
        Random.Shared.NextBytes(payload);
        using AsyncUnaryCall<EchoMessage> call = Client.UnaryAsync(new EchoMessage { Text = "hello", Payload = ByteString.CopyFrom(payload) }, cancellationToken: Ct);

        EchoMessage reply = await call.ResponseAsync;

        Assert.Equal("hello", reply.Text);
        Assert.Equal(payload, reply.Payload.ToByteArray());
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal("t-hello", call.GetTrailers().GetValue("x-echo-trailer"));
        Assert.Equal("HTTP/2", _seen.Protocol);
    }

    [Fact]
    public async Task A_failed_call_relays_grpc_status_and_grpc_message()
    {
        RpcException e = await Assert.ThrowsAsync<RpcException>(async () =>
            await Client.UnaryAsync(new EchoMessage { Text = "missing thing", Status = (int)StatusCode.NotFound }, cancellationToken: Ct));

        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Equal("failed: missing thing", e.Status.Detail);
    }

    [Fact]
    public async Task Server_streaming_relays_every_message_in_order()
    {
        using AsyncServerStreamingCall<EchoMessage> call = Client.ServerStream(new EchoMessage { Text = "s", Count = 500 }, cancellationToken: Ct);

        var counts = new List<int>();
        await foreach (EchoMessage message in call.ResponseStream.ReadAllAsync(Ct))
        {
            counts.Add(message.Count);
        }

        Assert.Equal(Enumerable.Range(0, 500), counts);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Client_streaming_relays_every_message()
    {
        using AsyncClientStreamingCall<EchoMessage, EchoMessage> call = Client.ClientStream(cancellationToken: Ct);
        for (int i = 0; i < 500; i++)
        {
            await call.RequestStream.WriteAsync(new EchoMessage { Count = i }, Ct);
        }

        await call.RequestStream.CompleteAsync();
        EchoMessage reply = await call;

        Assert.Equal(500, reply.Count);
        Assert.Equal((499 * 500 / 2).ToString(System.Globalization.CultureInfo.InvariantCulture), reply.Text);
    }

    [Fact]
    public async Task Bidirectional_streaming_answers_each_message_before_the_next_is_sent()
    {
        // Lock step: each reply must come back while the request stream is still open, so nothing is held for the end.
        using AsyncDuplexStreamingCall<EchoMessage, EchoMessage> call = Client.Bidi(cancellationToken: Ct);
        for (int i = 0; i < 200; i++)
        {
            await call.RequestStream.WriteAsync(new EchoMessage { Text = "b", Count = i }, Ct);
            Assert.True(await call.ResponseStream.MoveNext(Ct));
            Assert.Equal(i + 1, call.ResponseStream.Current.Count);
        }

        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext(Ct));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task The_deadline_reaches_the_backend_and_a_call_past_it_is_cancelled_there()
    {
        DateTime deadline = DateTime.UtcNow.AddMilliseconds(500);
        RpcException e = await Assert.ThrowsAsync<RpcException>(async () =>
            await Client.UnaryAsync(new EchoMessage { Text = "slow", DelayMs = 60_000 }, deadline: deadline, cancellationToken: Ct));

        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
        // The backend learned the deadline from grpc-timeout, and its handler was cancelled instead of running 60 s.
        Assert.InRange(_seen.Deadline, deadline.AddSeconds(-2), deadline.AddSeconds(2));
        await _seen.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }
}
