using Microsoft.CodeAnalysis;

namespace Loadwise.Generators.Tests;

/// <summary>
/// Golden files of the generated code for each type shape, capability combination, member kind and value type; every
/// case also compiles the generated output and requires zero diagnostics.
/// </summary>
public sealed class SnapshotTests
{
    private const string Usings = "using Loadwise;\n\n";

    public static TheoryData<string, string> Shapes => new()
    {
        {
            "Struct_AllCapabilities",
            Usings + """
            namespace Demo;

            public partial struct Backend
            {
                [Node] public string Address { get; init; }
                [Weighted] public int Weight { get; init; }
                [LoadMetric] public double InFlight { get; set; }
                [RemainingCapacity] public double Left { get; set; }
            }
            """
        },
        {
            "Struct_Backend",
            Usings + """
            namespace Demo;

            public partial struct Backend
            {
                [Node] public string Address { get; init; }
                [Weighted] public int Weight { get; init; }
                [LoadMetric] public double InFlight { get; set; }
            }
            """
        },
        {
            "ReadonlyStruct_Fields",
            Usings + """
            namespace Demo;

            public readonly partial struct Backend
            {
                [Node] public readonly long Id;
                [Weighted] public readonly int Weight;
                [LoadMetric] public readonly float Load;

                public Backend(long id, int weight, float load) => (Id, Weight, Load) = (id, weight, load);
            }
            """
        },
        {
            "Class_IdentityAndLoad",
            Usings + """
            namespace Demo;

            public sealed partial class Server
            {
                [Node] public required string Name { get; init; }
                [LoadMetric] public int ActiveRequests { get; set; }
            }
            """
        },
        {
            "Class_PrivateFields",
            Usings + """
            namespace Demo;

            internal sealed partial class Worker(int id, int queueDepth)
            {
                [Node] private readonly int _id = id;
                [LoadMetric] private int _queueDepth = queueDepth;

                public void Enqueue() => _queueDepth++;
            }
            """
        },
        {
            "RecordStruct_WeightOnly",
            Usings + """
            namespace Demo;

            public partial record struct Replica
            {
                [Weighted] public ushort Weight { get; init; }
            }
            """
        },
        {
            "RecordClass_IdentityAndWeight",
            Usings + """
            namespace Demo;

            public partial record Upstream(string Host)
            {
                [Node] public string Host { get; init; } = Host;
                [Weighted] public int Weight { get; init; }
            }
            """
        },
        {
            "RecordClass_Explicit_RemainingOnly",
            Usings + """
            namespace Demo;

            public partial record class Provider
            {
                [RemainingCapacity] public decimal Remaining { get; set; }
            }
            """
        },
        {
            "Nested_InPartialTypes",
            Usings + """
            namespace Demo.Routing;

            public static partial class Cluster
            {
                internal partial struct Pool
                {
                    private partial record struct Member
                    {
                        [Node] public System.Guid Id { get; init; }
                        [LoadMetric] public double Load { get; init; }
                    }
                }
            }
            """
        },
        {
            "GlobalNamespace_IdentityOnly",
            Usings + """
            public partial class Shard
            {
                [Node] public int Number { get; init; }
            }
            """
        },
        {
            "LoadOnly",
            Usings + """
            namespace Demo;

            public partial struct Queue
            {
                [LoadMetric] public double Depth;
            }
            """
        },
        {
            "Generic_IdentityOfTypeParameter",
            Usings + """
            namespace Demo;

            public partial struct Node<TKey>
                where TKey : System.IEquatable<TKey>
            {
                [Node] public TKey Key { get; init; }
                [Weighted] public byte Weight { get; init; }
            }
            """
        },
        {
            "NestedInGeneric",
            Usings + """
            namespace Demo;

            public partial class Registry<T>
            {
                public partial struct Entry
                {
                    [Node] public string Name { get; init; }
                    public T? Tag { get; init; }
                    [RemainingCapacity] public double Left { get; init; }
                }
            }
            """
        },
        {
            "AlreadyImplementsINode",
            Usings + """
            namespace Demo;

            public partial struct Backend : INode<string>
            {
                public string Id => Address;
                [Node] public string Address { get; init; }
                [LoadMetric] public double Load { get; init; }
            }
            """
        },
        {
            "KeywordMemberNames",
            Usings + """
            namespace Demo;

            public partial struct @event
            {
                [Node] public string @class { get; init; }
                [Weighted] public int @int;
            }
            """
        },
    };

    public static TheoryData<string> IntegerTypes =>
        ["sbyte", "byte", "short", "ushort", "int", "uint", "long", "ulong", "nint", "nuint", "System.Int128", "System.UInt128"];

    public static TheoryData<string> NumericTypes =>
        ["float", "double", "decimal", "System.Half", "sbyte", "byte", "short", "ushort", "int", "uint", "long", "ulong", "nint", "nuint", "System.Int128", "System.UInt128"];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Shape_generates_the_verified_code_and_it_compiles(string name, string source) => _ = VerifyAndCompile(name, source);

    [Theory]
    [MemberData(nameof(IntegerTypes))]
    public void Every_integer_weight_type_generates_and_compiles(string type) =>
        _ = VerifyAndCompile("Weight_" + type.Replace("System.", string.Empty, StringComparison.Ordinal), Usings + $$"""
            namespace Demo;

            public partial struct Node
            {
                [Weighted] public {{type}} Weight { get; init; }
            }
            """);

    [Theory]
    [MemberData(nameof(NumericTypes))]
    public void Every_numeric_load_and_capacity_type_generates_and_compiles(string type) =>
        _ = VerifyAndCompile("Load_" + type.Replace("System.", string.Empty, StringComparison.Ordinal), Usings + $$"""
            namespace Demo;

            public partial struct Node
            {
                [LoadMetric] public {{type}} Load { get; init; }
                [RemainingCapacity] public {{type}} Left;
            }
            """);

    /// <summary>All 15 non-empty subsets of the four capabilities, as bit masks 1..15 (identity, weight, load, capacity).</summary>
    public static TheoryData<int> CapabilityCombinations => [.. Enumerable.Range(1, 15)];

    [Theory]
    [MemberData(nameof(CapabilityCombinations))]
    public void Every_capability_combination_offers_exactly_its_strategies(int mask)
    {
        string[] members =
        [
            "[Node] public string Name { get; init; }",
            "[Weighted] public int Weight { get; init; }",
            "[LoadMetric] public double Load { get; init; }",
            "[RemainingCapacity] public double Left { get; init; }",
        ];
        string[] letters = ["Node", "Weighted", "LoadMetric", "RemainingCapacity"];
        string body = string.Join("\n    ", Enumerable.Range(0, 4).Where(i => (mask & (1 << i)) != 0).Select(i => members[i]));
        string name = "Combination_" + string.Join("_", Enumerable.Range(0, 4).Where(i => (mask & (1 << i)) != 0).Select(i => letters[i]));

        string generated = VerifyAndCompile(name, Usings + "namespace Demo;\n\npublic partial struct Node\n{\n    " + body + "\n}\n");

        bool identity = (mask & 1) != 0, weight = (mask & 2) != 0, load = (mask & 4) != 0, capacity = (mask & 8) != 0;
        Assert.Contains(" RoundRobin()", generated, StringComparison.Ordinal);
        Assert.Contains(" Random(ulong? seed = null)", generated, StringComparison.Ordinal);
        Assert.Equal(weight, generated.Contains(" WeightedRandom(", StringComparison.Ordinal));
        Assert.Equal(weight && identity, generated.Contains(" WeightedRoundRobin(", StringComparison.Ordinal));
        Assert.Equal(load, generated.Contains(" LeastLoad(", StringComparison.Ordinal));
        Assert.Equal(load, generated.Contains(" PowerOfTwoChoices(", StringComparison.Ordinal));
        Assert.Equal(identity, generated.Contains(" ConsistentHash(", StringComparison.Ordinal));
        Assert.Equal(capacity, generated.Contains(" MostAvailable(", StringComparison.Ordinal));
    }

    [Fact]
    public void A_strategy_the_capabilities_do_not_allow_does_not_compile()
    {
        var (_, output) = GeneratorHarness.Run(GeneratorHarness.Compile(Usings + """
            namespace Demo;

            public partial struct OnlyIdentity
            {
                [Node] public string Name { get; init; }
            }

            public static class Use
            {
                public static object Ok() => OnlyIdentity.Selectors.ConsistentHash();

                public static object Wrong() => OnlyIdentity.Selectors.LeastLoad();
            }
            """));

        Diagnostic error = Assert.Single(output.GetDiagnostics(TestContext.Current.CancellationToken), d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal("CS0117", error.Id); // 'Selectors' does not contain a definition for 'LeastLoad'
        Assert.Contains("LeastLoad", error.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void The_compile_check_would_see_missing_docs_in_generated_code()
    {
        // The harness compiles with documentation diagnostics on, so an undocumented public member (CS1591) in the
        // generated output would fail VerifyAndCompile; this proves the check is live.
        Diagnostic[] diagnostics = [.. GeneratorHarness.Compile("public class Undocumented { }").GetDiagnostics(TestContext.Current.CancellationToken)];

        Assert.Contains(diagnostics, d => d.Id == "CS1591");
    }

    private static string VerifyAndCompile(string name, string source)
    {
        var (result, output) = GeneratorHarness.Run(GeneratorHarness.Compile(source));

        Assert.All(result.Results, r => Assert.Null(r.Exception));
        Assert.Empty(result.Diagnostics);
        GeneratedSourceResult generated = Assert.Single(Assert.Single(result.Results).GeneratedSources);
        // The generator's assembly version changes with every release; the snapshots should not.
        string version = typeof(NodeGenerator).Assembly.GetName().Version!.ToString();
        Snapshot.Verify(generated.SourceText.ToString().Replace($"\"Loadwise.Generators\", \"{version}\"", "\"Loadwise.Generators\", \"{version}\"", StringComparison.Ordinal), name);

        Diagnostic[] significant = [.. GeneratorHarness.Significant(output.GetDiagnostics(TestContext.Current.CancellationToken))];
        Assert.True(significant.Length == 0, GeneratorHarness.Format(significant));
        Assert.Empty(GeneratorHarness.Analyze(output).Where(d => d.Id.StartsWith("LW", StringComparison.Ordinal)));
        return generated.SourceText.ToString();
    }
}

/// <summary>README.md ("Generated selectors") shows real generated code: every line of its excerpt appears in the snapshot.</summary>
public sealed class DocumentationExcerptTests
{
    [Fact]
    public void Generated_code_excerpt_in_the_docs_matches_the_verified_snapshot()
    {
        string testsDirectory = RepositoryPaths.TestProject;
        string root = RepositoryPaths.Root;
        string docs = File.ReadAllText(Path.Combine(root, "README.md"));
        string snapshot = File.ReadAllText(Path.Combine(testsDirectory, "Snapshots/Struct_Backend.verified.cs"));
        string[] snapshotLines = [.. snapshot.Split('\n').Select(l => l.Trim())];

        int start = docs.IndexOf("```csharp\npartial struct Backend", StringComparison.Ordinal);
        Assert.True(start >= 0, "excerpt not found in README.md");
        int end = docs.IndexOf("```", start + 10, StringComparison.Ordinal);
        string[] excerpt = [.. docs[(start + 10)..end].Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0)];

        Assert.True(excerpt.Length >= 8);
        Assert.All(excerpt, line => Assert.Contains(line, snapshotLines));
    }
}

/// <summary>Types whose file names would collide still each get their own generated file.</summary>
public sealed class HintNameTests
{
    [Fact]
    public void Case_only_and_arity_lookalike_names_get_distinct_files()
    {
        var (result, output) = GeneratorHarness.Run(GeneratorHarness.Compile("""
            using Loadwise;

            namespace Demo;

            public partial struct B { [Node] public int Id { get; init; } }

            public partial struct b { [Node] public int Id { get; init; } }

            public partial struct Pool<T> { [Node] public int Id { get; init; } }

            public partial struct Pool_1 { [Node] public int Id { get; init; } }
            """));

        GeneratorRunResult run = Assert.Single(result.Results);
        Assert.Null(run.Exception);
        Assert.Equal(4, run.GeneratedSources.Length);
        Assert.Equal(4, run.GeneratedSources.Select(s => s.HintName.ToUpperInvariant()).Distinct().Count());
        Diagnostic[] significant = [.. GeneratorHarness.Significant(output.GetDiagnostics(TestContext.Current.CancellationToken))];
        Assert.True(significant.Length == 0, GeneratorHarness.Format(significant));
    }
}
