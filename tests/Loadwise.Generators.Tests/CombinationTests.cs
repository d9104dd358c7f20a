namespace Loadwise.Generators.Tests;

/// <summary>
/// All 15 non-empty subsets of the four capabilities: each generates exactly its interfaces, accessor interfaces and
/// strategy factories, in order, and compiles cleanly.
/// </summary>
public sealed class CombinationTests
{
    // Per capability, in emission order: the member, the interface, the accessor interface.
    private static readonly (string Member, string Interface, string Accessor)[] Capabilities =
    [
        ("[Node] public string Name { get; init; }", "global::Loadwise.INode<string>", "global::Loadwise.INodeAccessor<global::Demo.Node, string>"),
        ("[Weighted] public int Weight { get; init; }", "global::Loadwise.IWeighted", "global::Loadwise.IWeightAccessor<global::Demo.Node>"),
        ("[LoadMetric] public double Load { get; init; }", "global::Loadwise.ILoadMetric", "global::Loadwise.ILoadAccessor<global::Demo.Node>"),
        ("[RemainingCapacity] public double Left { get; init; }", "global::Loadwise.IRemainingCapacity", "global::Loadwise.IRemainingRatioAccessor<global::Demo.Node>"),
    ];

    /// <summary>Bit masks 1..15: identity 1, weight 2, load 4, remaining capacity 8.</summary>
    public static TheoryData<int> Masks => [.. Enumerable.Range(1, 15)];

    [Theory]
    [MemberData(nameof(Masks))]
    public void Every_capability_combination_offers_exactly_its_interfaces_and_strategies(int mask)
    {
        int[] present = [.. Enumerable.Range(0, 4).Where(i => (mask & (1 << i)) != 0)];
        string body = string.Join("\n    ", present.Select(i => Capabilities[i].Member));

        string[] lines = GeneratorHarness.Lines(GeneratorHarness.GenerateAndCompileCleanly(
            SnapshotTests.Usings + "namespace Demo;\n\npublic partial struct Node\n{\n    " + body + "\n}\n"));

        Assert.Contains("partial struct Node : " + string.Join(", ", present.Select(i => Capabilities[i].Interface)), lines);
        Assert.Contains("public readonly struct LoadwiseAccessor : " + string.Join(", ", present.Select(i => Capabilities[i].Accessor)), lines);

        bool identity = (mask & 1) != 0, weight = (mask & 2) != 0, load = (mask & 4) != 0, capacity = (mask & 8) != 0;
        string[] expected =
        [
            "RoundRobin",
            "Random",
            .. weight ? ["WeightedRandom"] : Array.Empty<string>(),
            .. weight && identity ? ["WeightedRoundRobin"] : Array.Empty<string>(),
            .. load ? ["LeastLoad", "PowerOfTwoChoices"] : Array.Empty<string>(),
            .. identity ? ["ConsistentHash"] : Array.Empty<string>(),
            .. capacity ? ["MostAvailable"] : Array.Empty<string>(),
        ];
        Assert.Equal(expected, Factories(lines));
    }

    /// <summary>The names of the Selectors factories, in order: "public static global::Loadwise.X&lt;...&gt; Name(...) => new ...".</summary>
    private static string[] Factories(string[] lines) =>
    [
        .. lines
            .Where(line => line.StartsWith("public static global::Loadwise.", StringComparison.Ordinal) && line.Contains(" => new global::Loadwise.", StringComparison.Ordinal))
            .Select(line => line[..line.IndexOf('(', StringComparison.Ordinal)])
            .Select(declaration => declaration[(declaration.LastIndexOf(' ') + 1)..]),
    ];
}
