using Microsoft.CodeAnalysis;

namespace Loadwise.Generators.Tests;

/// <summary>
/// Golden files of the generated code for each type shape (struct, class, records, fields, nesting, generics, every
/// capability); every case also compiles the generated output and requires zero diagnostics. Member types and capability
/// combinations are covered line by line in <see cref="MemberTypeTests"/> and <see cref="CombinationTests"/>.
/// </summary>
public sealed class SnapshotTests
{
    internal const string Usings = "using Loadwise;\n\n";

    public static TheoryData<string, string> Shapes => new()
    {
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
            "Struct_PriorityAndIdentity",
            Usings + """
            namespace Demo;

            public partial struct Backend
            {
                [Node] public string Address { get; init; }
                [Priority] public byte Tier { get; init; }
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
    };

    /// <summary>Shapes whose difference from a snapshot shape is one or two lines: the source and those lines.</summary>
    public static TheoryData<string, string[]> LineShapes => new()
    {
        {
            Usings + """
            namespace Demo;

            internal sealed partial class Worker(int id, int queueDepth)
            {
                [Node] private readonly int _id = id;
                [LoadMetric] private int _queueDepth = queueDepth;

                public void Enqueue() => _queueDepth++;
            }
            """,
            [
                "partial class Worker : global::Loadwise.INode<int>, global::Loadwise.ILoadMetric",
                "public static int GetId(in global::Demo.Worker node) => node._id;",
                "public static double GetLoad(in global::Demo.Worker node) => (double)node._queueDepth;",
            ]
        },
        {
            Usings + """
            namespace Demo;

            public partial record class Provider
            {
                [RemainingCapacity] public decimal Remaining { get; set; }
            }
            """,
            [
                "partial record Provider : global::Loadwise.IRemainingCapacity",
                "public static double GetRemainingRatio(in global::Demo.Provider node) => (double)node.Remaining;",
            ]
        },
        {
            Usings + """
            namespace Demo;

            public partial struct Queue
            {
                [LoadMetric] public double Depth;
            }
            """,
            [
                "partial struct Queue : global::Loadwise.ILoadMetric",
                "public static double GetLoad(in global::Demo.Queue node) => node.Depth;",
            ]
        },
        {
            Usings + """
            namespace Demo;

            public partial struct @event
            {
                [Node] public string @class { get; init; }
                [Weighted] public int @int;
            }
            """,
            [
                "partial struct @event : global::Loadwise.INode<string>, global::Loadwise.IWeighted",
                "public static string GetId(in global::Demo.@event node) => node.@class;",
                "public static int GetWeight(in global::Demo.@event node) => node.@int;",
            ]
        },
    };

    /// <summary>Every valid source above, for tests that start from valid code.</summary>
    public static IEnumerable<string> AllSources =>
        Shapes.Select(row => (string)row.Data.Item2).Concat(LineShapes.Select(row => (string)row.Data.Item1));

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Shape_generates_the_verified_code_and_it_compiles(string name, string source)
    {
        string generated = GeneratorHarness.GenerateAndCompileCleanly(source);

        // The generator's assembly version changes with every release; the snapshots should not.
        string version = typeof(NodeGenerator).Assembly.GetName().Version!.ToString();
        Snapshot.Verify(generated.Replace($"\"Loadwise.Generators\", \"{version}\"", "\"Loadwise.Generators\", \"{version}\"", StringComparison.Ordinal), name);
    }

    [Fact]
    public void Every_verified_file_belongs_to_a_shape()
    {
        string[] files = [.. Directory.GetFiles(Path.Combine(RepositoryPaths.TestProject, "Snapshots"), "*.verified.cs")
            .Select(path => Path.GetFileName(path)[..^".verified.cs".Length])
            .Order(StringComparer.Ordinal)];

        Assert.Equal(Shapes.Select(row => (string)row.Data.Item1).Order(StringComparer.Ordinal), files);
    }

    [Theory]
    [MemberData(nameof(LineShapes))]
    public void Shape_generates_its_distinct_lines_and_compiles(string source, string[] expectedLines)
    {
        string[] lines = GeneratorHarness.Lines(GeneratorHarness.GenerateAndCompileCleanly(source));

        Assert.All(expectedLines, expected => Assert.Contains(expected, lines));
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
        // generated output would fail GenerateAndCompileCleanly; this proves the check is live.
        Diagnostic[] diagnostics = [.. GeneratorHarness.Compile("public class Undocumented { }").GetDiagnostics(TestContext.Current.CancellationToken)];

        Assert.Contains(diagnostics, d => d.Id == "CS1591");
    }
}

/// <summary>docs/core/generator.md shows real generated code: every line of its excerpt appears in the snapshot.</summary>
public sealed class DocumentationExcerptTests
{
    [Fact]
    public void Generated_code_excerpt_in_the_docs_matches_the_verified_snapshot()
    {
        string testsDirectory = RepositoryPaths.TestProject;
        string root = RepositoryPaths.Root;
        string docs = File.ReadAllText(Path.Combine(root, "docs/core/generator.md"));
        string snapshot = File.ReadAllText(Path.Combine(testsDirectory, "Snapshots/Struct_Backend.verified.cs"));
        string[] snapshotLines = [.. snapshot.Split('\n').Select(l => l.Trim())];

        int start = docs.IndexOf("```csharp\npartial struct Backend", StringComparison.Ordinal);
        Assert.True(start >= 0, "excerpt not found in docs/core/generator.md");
        int end = docs.IndexOf("```", start + 10, StringComparison.Ordinal);
        string[] excerpt = [.. docs[(start + 10)..end].Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0)];

        Assert.True(excerpt.Length >= 8);
        Assert.All(excerpt, line => Assert.Contains(line, snapshotLines));
    }

    /// <summary>README.md's C# examples are code that CI compiles and runs: every line appears in samples/Quickstart.</summary>
    [Fact]
    public void Readme_examples_are_lines_of_the_quickstart_sample()
    {
        string root = RepositoryPaths.Root;
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        HashSet<string> sample = [.. Directory.GetFiles(Path.Combine(root, "samples/Quickstart"), "*.cs")
            .SelectMany(File.ReadAllLines).Select(l => l.Trim())];
        System.Text.RegularExpressions.MatchCollection blocks = System.Text.RegularExpressions.Regex.Matches(
            readme, "```csharp\n(.*?)```", System.Text.RegularExpressions.RegexOptions.Singleline);

        Assert.True(blocks.Count >= 3, $"expected the README's three C# examples, found {blocks.Count}");
        string[] missing = [.. blocks.SelectMany(b => b.Groups[1].Value.Split('\n'))
            .Select(l => l.Trim()).Where(l => l.Length > 0 && !sample.Contains(l))];
        Assert.True(missing.Length == 0, "README.md lines not in samples/Quickstart:\n" + string.Join("\n", missing));
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
