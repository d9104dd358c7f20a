namespace Loadwise.Generators;

/// <summary>Metadata names the generator and analyzers look for, and names they emit.</summary>
internal static class KnownNames
{
    public const string NodeAttribute = "Loadwise.NodeAttribute";
    public const string WeightedAttribute = "Loadwise.WeightedAttribute";
    public const string LoadMetricAttribute = "Loadwise.LoadMetricAttribute";
    public const string RemainingCapacityAttribute = "Loadwise.RemainingCapacityAttribute";

    /// <summary>The nested accessor struct the generator adds to each node type.</summary>
    public const string AccessorTypeName = "LoadwiseAccessor";

    /// <summary>The nested static class of typed strategy factories.</summary>
    public const string SelectorsTypeName = "Selectors";

    /// <summary>The tool name in [GeneratedCode]; the analyzer uses it to tell generated members from the user's.</summary>
    public const string GeneratorName = "Loadwise.Generators";
}

/// <summary>Tracking names of the incremental pipeline steps, for tests that assert caching.</summary>
internal static class TrackingNames
{
    public const string IdentityMembers = nameof(IdentityMembers);
    public const string WeightMembers = nameof(WeightMembers);
    public const string LoadMembers = nameof(LoadMembers);
    public const string RemainingCapacityMembers = nameof(RemainingCapacityMembers);
    public const string IdentityAndWeight = nameof(IdentityAndWeight);
    public const string LoadAndCapacity = nameof(LoadAndCapacity);
    public const string AllCollected = nameof(AllCollected);
    public const string AllMembers = nameof(AllMembers);
    public const string NodeTypes = nameof(NodeTypes);

    public static readonly string[] All =
    [
        IdentityMembers, WeightMembers, LoadMembers, RemainingCapacityMembers, IdentityAndWeight, LoadAndCapacity, AllCollected, AllMembers, NodeTypes,
    ];
}
