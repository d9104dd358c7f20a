using System.Globalization;
using Loadwise.Generators.Model;
using Microsoft.CodeAnalysis;

namespace Loadwise.Generators;

/// <summary>
/// Every name the generator and the analyzer use for a capability, and the strategies each one allows. The parser, the
/// rules, the analyzer, the pipeline and the emitter all read these rows; nothing else maps a capability to a name.
/// </summary>
internal static class CapabilityTable
{
    /// <summary>One row per <see cref="Capability"/>, in its order (which is also the order of emission).</summary>
    public static readonly CapabilityInfo[] All =
    [
        new(
            Capability.Identity,
            attribute: "Node",
            noun: "identity",
            @interface: "INode",
            interfaceProperty: "Id",
            valueType: null,
            accessorInterface: "INodeAccessor",
            accessorMethod: "GetId",
            role: "the node's identity",
            rule: ValueRule.Equatable,
            wrongType: DiagnosticDescriptors.IdentityNotEquatable,
            trackingName: "IdentityMembers"),
        new(
            Capability.Weight,
            attribute: "Weighted",
            noun: "weight",
            @interface: "IWeighted",
            interfaceProperty: "Weight",
            valueType: "int",
            accessorInterface: "IWeightAccessor",
            accessorMethod: "GetWeight",
            role: "the node's weight",
            rule: ValueRule.Integer,
            wrongType: DiagnosticDescriptors.WeightNotInteger,
            trackingName: "WeightMembers"),
        new(
            Capability.Load,
            attribute: "LoadMetric",
            noun: "load metric",
            @interface: "ILoadMetric",
            interfaceProperty: "LoadScore",
            valueType: "double",
            accessorInterface: "ILoadAccessor",
            accessorMethod: "GetLoad",
            role: "the node's load (lower is better)",
            rule: ValueRule.Number,
            wrongType: DiagnosticDescriptors.LoadNotNumeric,
            trackingName: "LoadMembers"),
        new(
            Capability.RemainingCapacity,
            attribute: "RemainingCapacity",
            noun: "remaining capacity",
            @interface: "IRemainingCapacity",
            interfaceProperty: "RemainingRatio",
            valueType: "double",
            accessorInterface: "IRemainingRatioAccessor",
            accessorMethod: "GetRemainingRatio",
            role: "the node's remaining-capacity ratio (higher is better)",
            rule: ValueRule.Number,
            wrongType: DiagnosticDescriptors.RemainingCapacityNotNumeric,
            trackingName: "RemainingCapacityMembers"),
        new(
            Capability.Priority,
            attribute: "Priority",
            noun: "priority",
            @interface: "IPrioritized",
            interfaceProperty: "Priority",
            valueType: "int",
            accessorInterface: "IPriorityAccessor",
            accessorMethod: "GetPriority",
            role: "the node's priority level (0 is primary)",
            rule: ValueRule.Integer,
            wrongType: DiagnosticDescriptors.PriorityNotInteger,
            trackingName: "PriorityMembers"),
    ];

    /// <summary>The strategies a type's <c>Selectors</c> offers, each when the type has every capability it requires; in emission order.</summary>
    public static readonly StrategyInfo[] Strategies =
    [
        new("RoundRobin", "Creates a round-robin strategy.", requires: [], describes: null, keyedBy: null, usesAccessor: false, parameter: null),
        new("Random", "Creates a uniform random strategy.", requires: [], describes: null, keyedBy: null, usesAccessor: false, parameter: StrategyParameter.Seed),
        new(
            "WeightedRandom",
            "Creates a weighted random strategy that reads <c>{0}</c>.",
            requires: [Capability.Weight],
            describes: Capability.Weight,
            keyedBy: null,
            usesAccessor: true,
            parameter: StrategyParameter.Seed),
        new(
            "WeightedRoundRobin",
            "Creates a smooth weighted round-robin strategy keyed by <c>{0}</c>.",
            requires: [Capability.Weight, Capability.Identity],
            describes: Capability.Identity,
            keyedBy: Capability.Identity,
            usesAccessor: true,
            parameter: null),
        new("LeastLoad", "Creates a least-load strategy that reads <c>{0}</c>.", requires: [Capability.Load], describes: Capability.Load, keyedBy: null, usesAccessor: true, parameter: null),
        new(
            "PowerOfTwoChoices",
            "Creates a power-of-two-choices strategy that reads <c>{0}</c>.",
            requires: [Capability.Load],
            describes: Capability.Load,
            keyedBy: null,
            usesAccessor: true,
            parameter: StrategyParameter.Seed),
        new(
            "ConsistentHash",
            "Creates a consistent-hash ring keyed by <c>{0}</c>.",
            requires: [Capability.Identity],
            describes: Capability.Identity,
            keyedBy: Capability.Identity,
            usesAccessor: true,
            parameter: new StrategyParameter("int", "virtualNodes", "{0}.DefaultVirtualNodes", "Ring points per node.")),
        new(
            "MostAvailable",
            "Creates a most-available strategy that reads <c>{0}</c>.",
            requires: [Capability.RemainingCapacity],
            describes: Capability.RemainingCapacity,
            keyedBy: null,
            usesAccessor: true,
            parameter: new StrategyParameter("double", "epsilon", "{0}.DefaultEpsilon", "Ratios within this distance of the best count as tied.")),
    ];

    /// <summary>The row of <paramref name="capability"/>.</summary>
    public static CapabilityInfo Of(Capability capability) => All[(int)capability];

    /// <summary>The row whose attribute class is named <paramref name="attributeClassName"/> (e.g. <c>WeightedAttribute</c>), or null.</summary>
    public static CapabilityInfo? ByAttributeClassName(string attributeClassName)
    {
        foreach (CapabilityInfo info in All)
        {
            if (info.AttributeClassName == attributeClassName)
            {
                return info;
            }
        }

        return null;
    }

    /// <summary>True when <paramref name="interfaceName"/> (without type arguments) is one of Core's capability interfaces.</summary>
    public static bool IsCapabilityInterface(string interfaceName)
    {
        foreach (CapabilityInfo info in All)
        {
            if (info.Interface == interfaceName)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Formats a row's text with invariant culture.</summary>
    internal static string Format(string format, string argument) => string.Format(CultureInfo.InvariantCulture, format, argument);
}

/// <summary>What a capability accepts as its member's type.</summary>
internal enum ValueRule
{
    /// <summary>A non-nullable type that implements <c>IEquatable</c> of itself.</summary>
    Equatable,

    /// <summary>Any integer type.</summary>
    Integer,

    /// <summary>Any numeric type.</summary>
    Number,
}

/// <summary>One row of <see cref="CapabilityTable.All"/>. Interface names are in Core's namespace, <c>Loadwise</c>.</summary>
internal sealed class CapabilityInfo
{
    public CapabilityInfo(
        Capability kind,
        string attribute,
        string noun,
        string @interface,
        string interfaceProperty,
        string? valueType,
        string accessorInterface,
        string accessorMethod,
        string role,
        ValueRule rule,
        DiagnosticDescriptor wrongType,
        string trackingName)
    {
        Kind = kind;
        Attribute = attribute;
        Noun = noun;
        Interface = @interface;
        InterfaceProperty = interfaceProperty;
        ValueType = valueType;
        AccessorInterface = accessorInterface;
        AccessorMethod = accessorMethod;
        Role = role;
        Rule = rule;
        WrongType = wrongType;
        TrackingName = trackingName;
    }

    /// <summary>Gets the capability.</summary>
    public Capability Kind { get; }

    /// <summary>Gets the attribute's name as a user writes it, e.g. <c>Weighted</c>.</summary>
    public string Attribute { get; }

    /// <summary>Gets the attribute class's name, e.g. <c>WeightedAttribute</c>.</summary>
    public string AttributeClassName => Attribute + "Attribute";

    /// <summary>Gets the attribute's metadata name, e.g. <c>Loadwise.WeightedAttribute</c>.</summary>
    public string AttributeMetadataName => "Loadwise." + AttributeClassName;

    /// <summary>Gets what the capability is in a message ("a node has one {noun}").</summary>
    public string Noun { get; }

    /// <summary>Gets Core's capability interface, without type arguments, e.g. <c>IWeighted</c>.</summary>
    public string Interface { get; }

    /// <summary>Gets the interface's property, e.g. <c>Weight</c>.</summary>
    public string InterfaceProperty { get; }

    /// <summary>
    /// Gets the type the interface property and the accessor method return, or null when that is the member's own type,
    /// which is then also the last type argument of <see cref="Interface"/> and <see cref="AccessorInterface"/> (INode&lt;TId&gt;).
    /// </summary>
    public string? ValueType { get; }

    /// <summary>Gets Core's accessor interface, without type arguments, e.g. <c>IWeightAccessor</c>.</summary>
    public string AccessorInterface { get; }

    /// <summary>Gets the accessor interface's static method, e.g. <c>GetWeight</c>.</summary>
    public string AccessorMethod { get; }

    /// <summary>Gets what the value means, in the accessor method's summary.</summary>
    public string Role { get; }

    /// <summary>Gets what the member's type must be.</summary>
    public ValueRule Rule { get; }

    /// <summary>Gets the diagnostic for a member whose type breaks <see cref="Rule"/>.</summary>
    public DiagnosticDescriptor WrongType { get; }

    /// <summary>Gets the pipeline step name of the members marked with the attribute (for caching tests).</summary>
    public string TrackingName { get; }
}

/// <summary>One row of <see cref="CapabilityTable.Strategies"/>: a factory on <c>Selectors</c> for Core's strategy of the same name.</summary>
internal sealed class StrategyInfo
{
    public StrategyInfo(string name, string summary, Capability[] requires, Capability? describes, Capability? keyedBy, bool usesAccessor, StrategyParameter? parameter)
    {
        Name = name;
        Summary = summary;
        Requires = requires;
        Describes = describes;
        KeyedBy = keyedBy;
        UsesAccessor = usesAccessor;
        Parameter = parameter;
    }

    /// <summary>Gets the name of both Core's strategy type and the factory method.</summary>
    public string Name { get; }

    /// <summary>Gets the factory's summary; {0} stands for the member name of <see cref="Describes"/>.</summary>
    public string Summary { get; }

    /// <summary>Gets the capabilities the type needs for the factory to be offered.</summary>
    public Capability[] Requires { get; }

    /// <summary>Gets the capability whose member the summary names, or null.</summary>
    public Capability? Describes { get; }

    /// <summary>Gets the capability whose member type is the strategy's key type argument (after the node type), or null.</summary>
    public Capability? KeyedBy { get; }

    /// <summary>Gets whether the strategy's last type argument is the generated accessor.</summary>
    public bool UsesAccessor { get; }

    /// <summary>Gets the factory's one optional parameter, or null.</summary>
    public StrategyParameter? Parameter { get; }
}

/// <summary>A factory's optional parameter, passed on to the strategy's constructor.</summary>
internal sealed class StrategyParameter
{
    /// <summary>The randomised strategies' <c>seed</c> parameter.</summary>
    public static readonly StrategyParameter Seed = new("ulong?", "seed", "null", "A seed for reproducible picks, or null for a random seed.");

    public StrategyParameter(string type, string name, string defaultValue, string documentation)
    {
        Type = type;
        Name = name;
        DefaultValue = defaultValue;
        Documentation = documentation;
    }

    /// <summary>Gets the parameter's type.</summary>
    public string Type { get; }

    /// <summary>Gets the parameter's name.</summary>
    public string Name { get; }

    /// <summary>Gets the default value; {0} stands for the strategy's type (for its constants).</summary>
    public string DefaultValue { get; }

    /// <summary>Gets the parameter's documentation.</summary>
    public string Documentation { get; }
}
