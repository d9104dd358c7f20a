using Loadwise.Yarp;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds Loadwise steps to YARP's proxy pipeline.</summary>
/// <example>
/// <code>
/// app.MapReverseProxy(proxy =>
/// {
///     proxy.UseSessionAffinity();
///     proxy.UseLoadBalancing();
///     proxy.UseLoadwiseLatency();
///     proxy.UsePassiveHealthChecks();
/// });
/// </code>
/// </example>
public static class LoadwiseProxyPipelineExtensions
{
    /// <summary>
    /// Reports each forwarded request's latency (the forwarder's whole exchange with the destination) to
    /// <see cref="LoadwisePolicies.PeakEwma"/>, and counts it in flight meanwhile. Place it after
    /// <c>UseLoadBalancing()</c>, where the destination is chosen; requests of clusters with another policy pass
    /// straight through.
    /// </summary>
    /// <param name="proxy">The proxy pipeline given to <c>MapReverseProxy</c>.</param>
    /// <returns>The same pipeline.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="proxy"/> is null.</exception>
    /// <exception cref="InvalidOperationException"><c>AddLoadwisePolicies()</c> was not called.</exception>
    /// <example><code>app.MapReverseProxy(proxy => { proxy.UseLoadBalancing(); proxy.UseLoadwiseLatency(); });</code></example>
    public static IReverseProxyApplicationBuilder UseLoadwiseLatency(this IReverseProxyApplicationBuilder proxy)
    {
        ArgumentNullException.ThrowIfNull(proxy);
        PeakEwmaPolicy policy = proxy.ApplicationServices.GetService<PeakEwmaPolicy>()
            ?? throw new InvalidOperationException("UseLoadwiseLatency() needs the Loadwise policies: call AddReverseProxy().AddLoadwisePolicies() when adding services.");
        TimeProvider time = proxy.ApplicationServices.GetRequiredService<TimeProvider>();
        proxy.Use(next => new LatencyMiddleware(next, policy, time).InvokeAsync);
        return proxy;
    }
}
