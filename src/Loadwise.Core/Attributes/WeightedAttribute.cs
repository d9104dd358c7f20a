namespace Loadwise;

/// <summary>
/// Marks the member that is the node's weight. The Loadwise generator implements <see cref="IWeighted"/> from it and offers
/// <c>WeightedRandom</c> (and <c>WeightedRoundRobin</c> with <see cref="NodeAttribute"/>). The member must have an integer
/// type; types wider than <see cref="int"/> saturate to 0..<see cref="int.MaxValue"/>.
/// </summary>
/// <remarks>
/// The type that declares the member must be <c>partial</c> (and so must every type it is nested in); analyzers LW0001..LW0015
/// report misuse. See the README, "Generated selectors".
/// </remarks>
/// <example>
/// <code>
/// public partial struct Backend
/// {
///     [Weighted] public int Weight { get; init; }
/// }
///
/// var random = Backend.Selectors.WeightedRandom();
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class WeightedAttribute : Attribute
{
}
