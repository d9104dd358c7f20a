using System.Collections;
using System.Reflection;
using Loadwise.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Loadwise.Generators.Tests;

/// <summary>The pipeline caches across unrelated edits, regenerates on real ones, and its models hold no Roslyn objects.</summary>
public sealed class IncrementalTests
{
    private const string Backend = """
        using Loadwise;

        namespace Demo;

        public partial struct Backend
        {
            [Node] public string Address { get; init; }
            [Weighted] public int Weight { get; init; }
            [LoadMetric] public double InFlight { get; set; }
            [RemainingCapacity] public double Left { get; set; }
            [Priority] public int Tier { get; init; }
        }
        """;

    private const string Other = """
        namespace Demo;

        public static class Helpers
        {
            public static int Twice(int x) => x * 2;
        }
        """;

    [Fact]
    public void Adding_an_unrelated_file_leaves_every_step_cached()
    {
        CSharpCompilation first = GeneratorHarness.Compile(Backend, Other);
        GeneratorDriver driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(first, TestContext.Current.CancellationToken);
        CSharpCompilation second = first.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace Demo; public sealed class Unrelated { }", GeneratorHarness.ParseOptions, path: "Unrelated.cs", cancellationToken: TestContext.Current.CancellationToken));

        GeneratorRunResult result = Assert.Single(driver.RunGenerators(second, TestContext.Current.CancellationToken).GetRunResult().Results);

        AssertAllCached(result);
    }

    [Fact]
    public void Editing_a_comment_or_an_unrelated_member_leaves_every_step_cached()
    {
        CSharpCompilation first = GeneratorHarness.Compile(Backend, Other);
        GeneratorDriver driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(first, TestContext.Current.CancellationToken);
        SyntaxTree backendTree = first.SyntaxTrees.First();
        SyntaxTree otherTree = first.SyntaxTrees.Last();
        CSharpCompilation second = first
            .ReplaceSyntaxTree(backendTree, backendTree.WithChangedText(backendTree.GetText(TestContext.Current.CancellationToken).Replace(0, 0, "// a comment\n")))
            .ReplaceSyntaxTree(otherTree, otherTree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(Other.Replace("x * 2", "x + x", StringComparison.Ordinal))));

        GeneratorRunResult result = Assert.Single(driver.RunGenerators(second, TestContext.Current.CancellationToken).GetRunResult().Results);

        AssertAllCached(result);
    }

    [Fact]
    public void Changing_a_capability_member_regenerates_the_output()
    {
        CSharpCompilation first = GeneratorHarness.Compile(Backend);
        GeneratorDriver driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(first, TestContext.Current.CancellationToken);
        string before = driver.GetRunResult().Results[0].GeneratedSources[0].SourceText.ToString();
        SyntaxTree tree = first.SyntaxTrees.First();
        CSharpCompilation second = first.ReplaceSyntaxTree(tree, tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(
            Backend.Replace("public double InFlight", "public long InFlight", StringComparison.Ordinal))));

        GeneratorRunResult result = Assert.Single(driver.RunGenerators(second, TestContext.Current.CancellationToken).GetRunResult().Results);

        string after = result.GeneratedSources[0].SourceText.ToString();
        Assert.NotEqual(before, after);
        Assert.Contains("(double)node.InFlight", after, StringComparison.Ordinal);
        Assert.Contains(result.TrackedSteps[TrackingNames.NodeTypes].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
    }

    [Fact]
    public void Every_tracked_step_is_named_and_runs()
    {
        GeneratorDriver driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(GeneratorHarness.Compile(Backend), TestContext.Current.CancellationToken);
        GeneratorRunResult result = Assert.Single(driver.GetRunResult().Results);

        Assert.All(TrackingNames.All, name => Assert.True(result.TrackedSteps.ContainsKey(name), name));
    }

    [Fact]
    public void Model_types_hold_no_symbols_syntax_locations_or_compilations()
    {
        Type[] models = [.. typeof(NodeTypeModel).Assembly.GetTypes().Where(t => t.Namespace == typeof(NodeTypeModel).Namespace)];
        Assert.Contains(typeof(MemberCapture), models);
        foreach (Type model in models)
        {
            foreach (FieldInfo field in model.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            {
                Assert.False(IsForbidden(field.FieldType), $"{model.Name}.{field.Name} is a {field.FieldType}");
            }
        }
    }

    [Fact]
    public void Model_instances_in_every_tracked_step_hold_only_plain_values()
    {
        GeneratorDriver driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(GeneratorHarness.Compile(Backend), TestContext.Current.CancellationToken);
        GeneratorRunResult result = Assert.Single(driver.GetRunResult().Results);
        int walked = 0;
        foreach (string name in TrackingNames.All)
        {
            foreach (IncrementalGeneratorRunStep step in result.TrackedSteps[name])
            {
                foreach ((object value, IncrementalStepRunReason _) in step.Outputs)
                {
                    Walk(value, new HashSet<object>(ReferenceEqualityComparer.Instance), $"{name}");
                    walked++;
                }
            }
        }

        Assert.True(walked >= TrackingNames.All.Length, $"walked {walked} outputs");
    }

    private static void AssertAllCached(GeneratorRunResult result)
    {
        foreach (string name in TrackingNames.All)
        {
            Assert.True(result.TrackedSteps.TryGetValue(name, out var steps), name);
            foreach (IncrementalGeneratorRunStep step in steps)
            {
                Assert.All(step.Outputs, o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{name}: {o.Reason}"));
            }
        }

        Assert.All(result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    private static bool IsForbidden(Type type) =>
        typeof(ISymbol).IsAssignableFrom(type) || typeof(SyntaxNode).IsAssignableFrom(type) || typeof(Compilation).IsAssignableFrom(type)
        || typeof(Location).IsAssignableFrom(type) || typeof(SemanticModel).IsAssignableFrom(type) || type == typeof(SyntaxToken);

    private static void Walk(object? value, HashSet<object> seen, string path)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum)
        {
            return;
        }

        Type type = value.GetType();
        Assert.False(IsForbidden(type), $"{path} is a {type}");
        if (!type.IsValueType && !seen.Add(value))
        {
            return;
        }

        if (value is IEnumerable items)
        {
            int i = 0;
            foreach (object? item in items)
            {
                Walk(item, seen, $"{path}[{i++}]");
            }
        }

        for (Type? current = type; current is not null && current != typeof(object) && current != typeof(ValueType); current = current.BaseType)
        {
            foreach (FieldInfo field in current.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                Walk(field.GetValue(value), seen, $"{path}.{field.Name}");
            }
        }
    }
}
