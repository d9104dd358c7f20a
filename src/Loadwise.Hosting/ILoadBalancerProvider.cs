namespace Loadwise.Hosting;

/// <summary>
/// Resolves the balancers registered with <c>services.AddLoadwise&lt;TNode&gt;(name, ...)</c> by name, as
/// <c>ResiliencePipelineProvider</c> does for pipelines. Each name's balancer is built once, on first use.
/// </summary>
/// <typeparam name="TNode">The node type the balancers were registered for.</typeparam>
/// <example>
/// <code>
/// public sealed class CatalogClient(ILoadBalancerProvider&lt;Uri&gt; balancers)
/// {
///     private readonly LoadBalancer&lt;Uri&gt; _balancer = balancers.GetBalancer("catalog");
/// }
/// </code>
/// </example>
public interface ILoadBalancerProvider<TNode>
{
    /// <summary>Returns the balancer registered under <paramref name="name"/>, building it on first use.</summary>
    /// <param name="name">The registered name.</param>
    /// <returns>The balancer (the same instance for every call with this name).</returns>
    /// <exception cref="KeyNotFoundException">No balancer of this node type is registered under the name.</exception>
    /// <exception cref="ArgumentException">The registration's options are invalid; the message names each key.</exception>
    /// <example><code>LoadBalancer&lt;Uri&gt; balancer = provider.GetBalancer("catalog");</code></example>
    LoadBalancer<TNode> GetBalancer(string name);

    /// <summary>Returns the balancer registered under <paramref name="name"/>, if there is one.</summary>
    /// <param name="name">The name.</param>
    /// <param name="balancer">The balancer when registered.</param>
    /// <returns>True when registered.</returns>
    /// <example><code>if (provider.TryGetBalancer("catalog", out var balancer)) { /* ... */ }</code></example>
    bool TryGetBalancer(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out LoadBalancer<TNode>? balancer);
}
