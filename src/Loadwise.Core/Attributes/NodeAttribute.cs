namespace Loadwise;

/// <summary>
/// Marks the member that is the node's identity. The Loadwise generator implements <see cref="INode{TId}"/> from it
/// and offers the identity-based strategies (<c>ConsistentHash</c>, and <c>WeightedRoundRobin</c> with <see cref="WeightedAttribute"/>).
/// The member's type must implement <see cref="IEquatable{T}"/> of itself and must not be nullable.
/// </summary>
/// <remarks>
/// The type that declares the member must be <c>partial</c> (and so must every type it is nested in); analyzers LW0001..LW0015
/// report misuse. See the README, "Generated selectors".
/// </remarks>
/// <example>
/// <code>
/// public partial struct Backend
/// {
///     [Node] public string Address { get; init; }
/// }
///
/// var ring = Backend.Selectors.ConsistentHash();
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class NodeAttribute : Attribute
{
}
