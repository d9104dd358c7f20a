namespace Loadwise.Generators.Tests;

/// <summary>
/// Each member type a weight, load or capacity may have: the accessor reads it with the expected conversion (widening,
/// saturation to 0..int.MaxValue, or a cast to double), and the generated code compiles cleanly with the selectors in use.
/// </summary>
public sealed class MemberTypeTests
{
    /// <summary>The member type; what GetWeight returns (null: not an integer, so it cannot be a weight); what GetLoad returns.</summary>
    public static TheoryData<string, string?, string> MemberTypes => new()
    {
        { "sbyte", "node.Weight", "(double)node.Load" },
        { "byte", "node.Weight", "(double)node.Load" },
        { "short", "node.Weight", "(double)node.Load" },
        { "ushort", "node.Weight", "(double)node.Load" },
        { "int", "node.Weight", "(double)node.Load" },
        { "uint", "SaturateWeight(node.Weight)", "(double)node.Load" },
        { "long", "SaturateWeight(node.Weight)", "(double)node.Load" },
        { "ulong", "SaturateWeight(node.Weight)", "(double)node.Load" },
        { "nint", "SaturateWeight(node.Weight)", "(double)node.Load" },
        { "nuint", "SaturateWeight(node.Weight)", "(double)node.Load" },
        { "System.Int128", "SaturateWeight(node.Weight)", "(double)node.Load" },
        { "System.UInt128", "SaturateWeight(node.Weight)", "(double)node.Load" },
        { "float", null, "(double)node.Load" },
        { "double", null, "node.Load" },
        { "decimal", null, "(double)node.Load" },
        { "System.Half", null, "(double)node.Load" },
    };

    [Theory]
    [MemberData(nameof(MemberTypes))]
    public void Every_member_type_is_read_with_its_conversion_and_compiles_with_the_selectors(string type, string? getWeight, string getLoad)
    {
        string weightMember = getWeight is null ? string.Empty : $"[Weighted] public {type} Weight {{ get; init; }}";
        string weightUse = getWeight is null ? string.Empty : "Node.Selectors.WeightedRandom(1).TrySelect(nodes, SelectionContext.Empty, out int weighted);";
        string source = SnapshotTests.Usings + $$"""
            namespace Demo;

            public partial struct Node
            {
                {{weightMember}}
                [LoadMetric] public {{type}} Load { get; init; }
                [RemainingCapacity] public {{type}} Left;
            }

            public static class Use
            {
                public static void Pick(Node[] nodes)
                {
                    {{weightUse}}
                    Node.Selectors.LeastLoad().TrySelect(nodes, SelectionContext.Empty, out int leastLoaded);
                    Node.Selectors.PowerOfTwoChoices(1).TrySelect(nodes, SelectionContext.Empty, out int sampled);
                    Node.Selectors.MostAvailable().TrySelect(nodes, SelectionContext.Empty, out int mostAvailable);
                }
            }
            """;

        string[] lines = GeneratorHarness.Lines(GeneratorHarness.GenerateAndCompileCleanly(source));

        Assert.Contains($"public static double GetLoad(in global::Demo.Node node) => {getLoad};", lines);
        Assert.Contains($"public static double GetRemainingRatio(in global::Demo.Node node) => {getLoad.Replace("Load", "Left", StringComparison.Ordinal)};", lines);
        if (getWeight is not null)
        {
            Assert.Contains($"public static int GetWeight(in global::Demo.Node node) => {getWeight};", lines);
        }

        if (getWeight?.StartsWith("SaturateWeight(", StringComparison.Ordinal) == true)
        {
            string t = type.StartsWith("System.", StringComparison.Ordinal) ? "global::" + type : type;
            Assert.Contains("/// <summary>Returns <c>Weight</c>, the node's weight, saturated to 0..int.MaxValue.</summary>", lines);
            Assert.Contains($"private static int SaturateWeight({t} value) => value <= ({t})0 ? 0 : value >= ({t})int.MaxValue ? int.MaxValue : (int)value;", lines);
        }
        else
        {
            Assert.DoesNotContain(lines, line => line.Contains("Saturate", StringComparison.Ordinal) || line.Contains("saturated", StringComparison.Ordinal));
        }
    }
}
