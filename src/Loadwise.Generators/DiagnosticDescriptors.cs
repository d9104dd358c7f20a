using Microsoft.CodeAnalysis;

namespace Loadwise.Generators;

/// <summary>Every diagnostic Loadwise's analyzers report. Ids are stable; docs/diagnostics.md explains each.</summary>
internal static class DiagnosticDescriptors
{
    private const string Usage = "Loadwise.Usage";
    private const string Design = "Loadwise.Design";
    private const string HelpBase = "https://github.com/loadwise/loadwise/blob/main/docs/diagnostics.md#";

    public static readonly DiagnosticDescriptor TypeNotPartial = Create(
        "LW0001",
        "Node type must be partial",
        "Type '{0}' has Loadwise capability attributes but is not partial; add the 'partial' modifier to every declaration of '{0}'",
        Usage);

    public static readonly DiagnosticDescriptor ContainingTypeNotPartial = Create(
        "LW0002",
        "Containing type of a node type must be partial",
        "Type '{0}' is nested in '{1}', which is not partial; add the 'partial' modifier to '{1}' so the generator can extend '{0}'",
        Usage);

    public static readonly DiagnosticDescriptor WeightNotInteger = Create(
        "LW0003",
        "[Weighted] member must have an integer type",
        "[Weighted] member '{0}' has type '{1}'; weights are non-negative integers: change its type to an integer type such as int",
        Usage);

    public static readonly DiagnosticDescriptor LoadNotNumeric = Create(
        "LW0004",
        "[LoadMetric] member must have a numeric type",
        "[LoadMetric] member '{0}' has type '{1}'; a load is a number (lower is better): change its type to a numeric type such as double or int",
        Usage);

    public static readonly DiagnosticDescriptor RemainingCapacityNotNumeric = Create(
        "LW0005",
        "[RemainingCapacity] member must have a numeric type",
        "[RemainingCapacity] member '{0}' has type '{1}'; the remaining capacity is a ratio from 0 to 1: change its type to double or another numeric type",
        Usage);

    public static readonly DiagnosticDescriptor DuplicateCapability = Create(
        "LW0006",
        "Capability attribute used on more than one member",
        "Type '{0}' marks both '{1}' and '{2}' with [{3}]; a node has one {4}: remove [{3}] from one of them",
        Usage);

    public static readonly DiagnosticDescriptor IdentityNotEquatable = Create(
        "LW0007",
        "[Node] member type must be equatable",
        "[Node] member '{0}' has type '{1}', which does not implement IEquatable<{1}>; use an equatable identity type such as string, an integer or Guid",
        Usage);

    public static readonly DiagnosticDescriptor MemberStatic = Create(
        "LW0008",
        "Capability member must be an instance member",
        "Member '{0}' is static; a capability describes each node: remove 'static' or move [{1}] to an instance member",
        Usage);

    public static readonly DiagnosticDescriptor MemberNotReadable = Create(
        "LW0009",
        "Capability member must be readable",
        "Member '{0}' cannot be read as 'node.{0}' ({1}); add a get accessor or move [{2}] to a readable property or field",
        Usage);

    public static readonly DiagnosticDescriptor MemberIndexer = Create(
        "LW0010",
        "Capability member must not be an indexer",
        "[{0}] is on an indexer, which needs an argument to read; move [{0}] to a property or field",
        Usage);

    public static readonly DiagnosticDescriptor UnsupportedTypeShape = Create(
        "LW0011",
        "Unsupported node type shape",
        "Type '{0}' is {1}, which cannot be a Loadwise node; {2}",
        Design);

    public static readonly DiagnosticDescriptor IdentityNullable = Create(
        "LW0012",
        "[Node] member must not be nullable",
        "[Node] member '{0}' has nullable type '{1}'; a node always has an identity: make it non-nullable",
        Usage);

    public static readonly DiagnosticDescriptor GeneratedNameClash = Create(
        "LW0013",
        "Type name or member clashes with a generated name",
        "Type '{0}' already uses the name '{1}', which the generator adds as a nested type; rename the type or member '{1}'",
        Design);

    public static readonly DiagnosticDescriptor MemberTypeLessAccessible = Create(
        "LW0014",
        "Capability member type is less accessible than the node type",
        "Member '{0}' has type '{1}', which is less accessible than '{2}'; the generated accessor is as visible as '{2}': make '{1}' at least as accessible as '{2}'",
        Design);

    public static readonly DiagnosticDescriptor PrimaryConstructorParameter = Create(
        "LW0015",
        "Capability attribute on a primary-constructor parameter",
        "[{1}] on the primary-constructor parameter '{0}' is not seen by the generator; declare the property in the body, e.g. '[{1}] public T {0} {{ get; init; }} = {0};'",
        Usage);

    public static readonly DiagnosticDescriptor PriorityNotInteger = Create(
        "LW0016",
        "[Priority] member must have an integer type",
        "[Priority] member '{0}' has type '{1}'; a priority is a level from 0 (primary) to 31: change its type to an integer type such as int",
        Usage);

    public static readonly DiagnosticDescriptor PriorityOutOfRange = Create(
        "LW0017",
        "[Priority] member is initialized outside 0..31",
        "[Priority] member '{0}' is initialized to {1}; priority levels run from 0 (primary) to 31: use a level in that range",
        Usage);

    /// <summary>All descriptors, for the analyzer's SupportedDiagnostics and for tests.</summary>
    public static readonly DiagnosticDescriptor[] All =
    [
        TypeNotPartial, ContainingTypeNotPartial, WeightNotInteger, LoadNotNumeric, RemainingCapacityNotNumeric,
        DuplicateCapability, IdentityNotEquatable, MemberStatic, MemberNotReadable, MemberIndexer, UnsupportedTypeShape,
        IdentityNullable, GeneratedNameClash, MemberTypeLessAccessible, PrimaryConstructorParameter, PriorityNotInteger,
        PriorityOutOfRange,
    ];

    private static DiagnosticDescriptor Create(string id, string title, string message, string category) =>
        new(id, title, message, category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: HelpBase + id.ToLowerInvariant());
}
