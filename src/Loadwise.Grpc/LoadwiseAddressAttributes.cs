using Grpc.Net.Client.Balancer;

namespace Loadwise.Grpc;

/// <summary>
/// The <see cref="BalancerAddress.Attributes"/> keys Loadwise reads. A resolver sets them on the addresses it returns;
/// a changed value reaches the picker with the next address update.
/// </summary>
/// <example>
/// <code>
/// var address = new BalancerAddress("10.0.0.7", 5001);
/// address.Attributes.Set(LoadwiseAddressAttributes.Weight, 3); // three times the calls of a weight-1 server
/// </code>
/// </example>
public static class LoadwiseAddressAttributes
{
    /// <summary>The attribute name of <see cref="Weight"/>: <c>"loadwise.weight"</c>.</summary>
    /// <example><code>string key = LoadwiseAddressAttributes.WeightName; // "loadwise.weight"</code></example>
    public const string WeightName = "loadwise.weight";

    /// <summary>
    /// A server's weight for <c>loadwise_wrr</c> and <c>loadwise_weighted_least_request</c> (and the other weighted
    /// strategies): 1 when absent; a negative value counts as 0, which takes no calls while any other server has weight.
    /// </summary>
    /// <example><code>address.Attributes.Set(LoadwiseAddressAttributes.Weight, 2);</code></example>
    public static BalancerAttributesKey<int> Weight { get; } = new(WeightName);
}
