using Grpc.Core;
using Loadwise.AotProxy.IntegrationTests.GrpcEcho;

namespace Loadwise.AotProxy.IntegrationTests.Protocols;

/// <summary>The gRPC backend of the passthrough tests: echoes, streams, fails on request, and reports what it saw.</summary>
internal sealed class EchoService(EchoObservations seen) : Echo.EchoBase
{
    public override async Task<EchoMessage> Unary(EchoMessage request, ServerCallContext context)
    {
        seen.Protocol = context.GetHttpContext().Request.Protocol;
        seen.Deadline = context.Deadline;
        if (request.DelayMs > 0)
        {
            try
            {
                await Task.Delay(request.DelayMs, context.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                seen.Cancelled.TrySetResult();
                throw;
            }
        }

        if (request.Status != 0)
        {
            throw new RpcException(new Status((StatusCode)request.Status, "failed: " + request.Text));
        }

        context.ResponseTrailers.Add("x-echo-trailer", "t-" + request.Text);
        return new EchoMessage { Text = request.Text, Payload = request.Payload };
    }

    public override async Task ServerStream(EchoMessage request, IServerStreamWriter<EchoMessage> responseStream, ServerCallContext context)
    {
        for (int i = 0; i < request.Count; i++)
        {
            await responseStream.WriteAsync(new EchoMessage { Text = request.Text, Count = i }, context.CancellationToken);
        }
    }

    public override async Task<EchoMessage> ClientStream(IAsyncStreamReader<EchoMessage> requestStream, ServerCallContext context)
    {
        int count = 0;
        long sum = 0;
        await foreach (EchoMessage message in requestStream.ReadAllAsync(context.CancellationToken))
        {
            count++;
            sum += message.Count;
        }

        return new EchoMessage { Count = count, Text = sum.ToString(System.Globalization.CultureInfo.InvariantCulture) };
    }

    public override async Task Bidi(IAsyncStreamReader<EchoMessage> requestStream, IServerStreamWriter<EchoMessage> responseStream, ServerCallContext context)
    {
        await foreach (EchoMessage message in requestStream.ReadAllAsync(context.CancellationToken))
        {
            await responseStream.WriteAsync(new EchoMessage { Text = message.Text, Count = message.Count + 1 }, context.CancellationToken);
        }
    }
}

/// <summary>What the gRPC backend saw of the last call.</summary>
internal sealed class EchoObservations
{
    public string? Protocol { get; set; }

    public DateTime Deadline { get; set; }

    public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
