namespace Loadwise.Generators;

/// <summary>Names the generator emits besides the capability names (those are in <see cref="CapabilityTable"/>).</summary>
internal static class KnownNames
{
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
    /// <summary>Each capability's members combined with those of the capabilities before it (one step per fold).</summary>
    public const string AllCollected = nameof(AllCollected);

    /// <summary>The members of every capability so far, as one list.</summary>
    public const string AllMembers = nameof(AllMembers);

    /// <summary>The node type models the emitter renders.</summary>
    public const string NodeTypes = nameof(NodeTypes);

    /// <summary>Every tracked name: each capability's members step (from <see cref="CapabilityTable"/>), then the steps above.</summary>
    public static readonly string[] All =
        [.. System.Linq.Enumerable.Select(CapabilityTable.All, static c => c.TrackingName), AllCollected, AllMembers, NodeTypes];
}
