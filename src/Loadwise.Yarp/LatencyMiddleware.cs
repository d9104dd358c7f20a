using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Model;

namespace Loadwise.Yarp;

/// <summary>
/// Reports each forwarded request's latency to <see cref="LoadwisePolicies.PeakEwma"/>. It runs in YARP's proxy
/// pipeline after load balancing, where the feature's available destinations are the one destination chosen, and times
/// the rest of the pipeline: the forwarder's whole exchange with the destination (request, response headers and body).
/// Requests of clusters with another policy pass straight through.
/// </summary>
internal sealed class LatencyMiddleware
{
    private readonly RequestDelegate _next;
    private readonly PeakEwmaPolicy _policy;
    private readonly TimeProvider _time;

    public LatencyMiddleware(RequestDelegate next, PeakEwmaPolicy policy, TimeProvider time)
    {
        _next = next;
        _policy = policy;
        _time = time;
        policy.LatencyReported = true;
    }

    public Task InvokeAsync(HttpContext context)
    {
        IReverseProxyFeature? feature = context.Features.Get<IReverseProxyFeature>();
        ClusterState? cluster = context.GetEndpoint()?.Metadata.GetMetadata<RouteModel>()?.Cluster;
        if (feature is null || cluster is null || feature.AvailableDestinations.Count != 1
            || !string.Equals(feature.Cluster.Config.LoadBalancingPolicy, LoadwisePolicies.PeakEwma, StringComparison.OrdinalIgnoreCase)
            || !_policy.TryBegin(cluster, feature.AvailableDestinations[0], out PeakEwmaTracker? tracker, out int index))
        {
            return _next(context);
        }

        return TimeAsync(context, tracker!, index);
    }

    private async Task TimeAsync(HttpContext context, PeakEwmaTracker tracker, int index)
    {
        long started = _time.GetTimestamp();
        try
        {
            await _next(context);
        }
        finally
        {
            tracker.Report(index, _time.GetElapsedTime(started));
        }
    }
}
