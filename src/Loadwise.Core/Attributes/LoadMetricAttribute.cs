namespace Loadwise;

/// <summary>
/// Marks the member that is the node's load (lower is better). The Loadwise generator implements <see cref="ILoadMetric"/>
/// from it and offers <c>LeastLoad</c> and <c>PowerOfTwoChoices</c>. The member must have a numeric type; it is read as a
/// <see cref="double"/>.
/// </summary>
/// <remarks>
/// The type that declares the member must be <c>partial</c> (and so must every type it is nested in); analyzers LW0001..LW0015
/// report misuse. See the README, "Generated selectors".
/// </remarks>
/// <example>
/// <code>
/// public partial struct Backend
/// {
///     [LoadMetric] public double InFlight { get; set; }
/// }
///
/// var leastLoad = Backend.Selectors.LeastLoad();
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class LoadMetricAttribute : Attribute
{
}
