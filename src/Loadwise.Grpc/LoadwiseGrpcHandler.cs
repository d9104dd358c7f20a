namespace Loadwise.Grpc;

/// <summary>
/// Lets the Loadwise balancers see each call's gRPC status. Put it in the channel's handler chain
/// (<c>GrpcChannelOptions.HttpHandler</c>): it runs after the pick, reads <c>grpc-status</c> and the retry
/// information of a trailers-only response (how a server fails a call), and hands them to the call's tracker.
/// Without it the balancers still count calls in flight and see transport failures, but not UNAVAILABLE or
/// RESOURCE_EXHAUSTED answers.
/// </summary>
/// <remarks>
/// The chain must end in a <see cref="SocketsHttpHandler"/> for gRPC's balancing to work; the parameterless
/// constructor makes one with several HTTP/2 connections allowed. A status sent in the trailers after response
/// messages (streaming calls) is not seen: gRPC completes the tracker when the response headers arrive.
/// </remarks>
/// <example>
/// <code>
/// var channel = GrpcChannel.ForAddress("static:///lobby", new GrpcChannelOptions
/// {
///     HttpHandler = new LoadwiseGrpcHandler(),
///     ServiceProvider = services,
///     ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new LoadwiseBalancingConfig(LoadwisePolicies.LeastRequest) } },
/// });
/// </code>
/// </example>
public sealed class LoadwiseGrpcHandler : DelegatingHandler
{
    internal static readonly HttpRequestOptionsKey<CallTracker> TrackerKey = new("Loadwise.Grpc.CallTracker");

    /// <summary>Creates the handler over a new <see cref="SocketsHttpHandler"/> (<c>EnableMultipleHttp2Connections = true</c>).</summary>
    /// <example><code>var options = new GrpcChannelOptions { HttpHandler = new LoadwiseGrpcHandler() };</code></example>
    public LoadwiseGrpcHandler()
        : base(new SocketsHttpHandler { EnableMultipleHttp2Connections = true })
    {
    }

    /// <summary>Creates the handler over the given inner handler (a <see cref="SocketsHttpHandler"/>, possibly wrapped).</summary>
    /// <param name="innerHandler">The next handler in the chain.</param>
    /// <example><code>var handler = new LoadwiseGrpcHandler(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2) });</code></example>
    public LoadwiseGrpcHandler(HttpMessageHandler innerHandler)
        : base(innerHandler)
    {
    }

    /// <inheritdoc/>
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (request.Options.TryGetValue(TrackerKey, out CallTracker? tracker))
        {
            tracker.Observe(GrpcResponseStatus.Read(response));
        }

        return response;
    }
}
