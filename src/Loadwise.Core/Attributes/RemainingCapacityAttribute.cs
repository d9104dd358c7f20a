namespace Loadwise;

/// <summary>
/// Marks the member that is the node's remaining-capacity ratio, from 0 (exhausted) to 1 (idle). The Loadwise generator
/// implements <see cref="IRemainingCapacity"/> from it and offers <c>MostAvailable</c>. The member must have a numeric
/// type; it is read as a <see cref="double"/>.
/// </summary>
/// <remarks>
/// The type that declares the member must be <c>partial</c> (and so must every type it is nested in); analyzers LW0001..LW0015
/// report misuse. See the README, "Generated selectors".
/// </remarks>
/// <example>
/// <code>
/// public partial struct Provider
/// {
///     [RemainingCapacity] public double Left { get; set; }
/// }
///
/// var mostAvailable = Provider.Selectors.MostAvailable();
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class RemainingCapacityAttribute : Attribute
{
}
