namespace Loadwise;

/// <summary>
/// Marks the member that is the node's priority level (0 is primary; up to 31). The Loadwise generator implements
/// <see cref="IPrioritized"/> from it, so that <see cref="PriorityFilter{TNode, TAccessor, THealth}"/> reads it
/// through <c>LoadwiseAccessor</c> without interface dispatch. The member must have an integer type; wider types
/// saturate to 0..<see cref="int.MaxValue"/>, and a level above 31 is rejected when a pick reads it.
/// </summary>
/// <remarks>
/// The type that declares the member must be <c>partial</c>; analyzers report misuse (LW0016 for a type that is not
/// an integer, LW0017 for a constant initializer outside 0..31). See docs/diagnostics.md.
/// </remarks>
/// <example>
/// <code>
/// public partial struct Backend
/// {
///     [Node] public string Address { get; init; }
///     [Priority] public int Tier { get; init; }   // 0 = primary, 1 = backup
/// }
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class PriorityAttribute : Attribute
{
}
