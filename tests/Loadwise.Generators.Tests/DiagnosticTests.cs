using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Loadwise.Generators.Tests;

/// <summary>
/// Each LW id: the wrong code reports exactly that id, as an error, at the marked span ({|...|}); the fixed code reports
/// no LW diagnostic and compiles cleanly with the generated output.
/// </summary>
public sealed class DiagnosticTests
{
    public static TheoryData<string, string, string> Cases => new()
    {
        {
            "LW0001",
            "public struct {|Backend|} { [Node] public string Id { get; init; } }",
            "public partial struct Backend { [Node] public string Id { get; init; } }"
        },
        {
            "LW0002",
            "public class {|Outer|} { public partial struct Backend { [Node] public string Id { get; init; } } }",
            "public partial class Outer { public partial struct Backend { [Node] public string Id { get; init; } } }"
        },
        {
            "LW0003",
            "public partial struct Backend { [{|Weighted|}] public double Weight { get; init; } }",
            "public partial struct Backend { [Weighted] public int Weight { get; init; } }"
        },
        {
            "LW0004",
            "public partial struct Backend { [{|LoadMetric|}] public string Load { get; init; } }",
            "public partial struct Backend { [LoadMetric] public double Load { get; init; } }"
        },
        {
            "LW0004",
            "public partial struct Backend<T> { [{|LoadMetric|}] public T Load { get; init; } }",
            "public partial struct Backend<T> { [LoadMetric] public double Load { get; init; } public T Tag { get; init; } }"
        },
        {
            "LW0005",
            "public partial struct Backend { [{|RemainingCapacity|}] public bool Left { get; init; } }",
            "public partial struct Backend { [RemainingCapacity] public double Left { get; init; } }"
        },
        {
            "LW0006",
            "public partial struct Backend { [Node] public string A { get; init; } [{|Node|}] public string B { get; init; } }",
            "public partial struct Backend { [Node] public string A { get; init; } public string B { get; init; } }"
        },
        {
            "LW0007",
            "public partial struct Backend { [{|Node|}] public object Id { get; init; } }",
            "public partial struct Backend { [Node] public string Id { get; init; } }"
        },
        {
            "LW0008",
            "public partial struct Backend { [{|LoadMetric|}] public static double Load { get; set; } }",
            "public partial struct Backend { [LoadMetric] public double Load { get; set; } }"
        },
        {
            "LW0009",
            "public partial class Backend { private double _load; [{|LoadMetric|}] public double Load { set => _load = value; } public double Peek() => _load; }",
            "public partial class Backend { private double _load; [LoadMetric] public double Load { get => _load; set => _load = value; } }"
        },
        {
            "LW0009",
            "public interface IHasLoad { double Load { get; } } public partial class Backend : IHasLoad { [{|LoadMetric|}] double IHasLoad.Load => 1; }",
            "public interface IHasLoad { double Load { get; } } public partial class Backend : IHasLoad { [LoadMetric] public double Load => 1; }"
        },
        {
            "LW0010",
            "public partial class Backend { [{|LoadMetric|}] public double this[int i] => i; }",
            "public partial class Backend { [LoadMetric] public double Load => 0; }"
        },
        {
            "LW0011",
            "public ref partial struct {|Backend|} { [LoadMetric] public double Load { get; init; } }",
            "public partial struct Backend { [LoadMetric] public double Load { get; init; } }"
        },
        {
            "LW0011",
            "public partial interface {|IBackend|} { [LoadMetric] double Load { get; } }",
            "public partial class Backend { [LoadMetric] public double Load { get; } }"
        },
        {
            "LW0012",
            "public partial struct Backend { [{|Node|}] public string? Id { get; init; } }",
            "public partial struct Backend { [Node] public string Id { get; init; } }"
        },
        {
            "LW0013",
            "public partial struct {|Backend|} { [Node] public string Id { get; init; } public int Selectors { get; init; } }",
            "public partial struct Backend { [Node] public string Id { get; init; } public int SelectorCount { get; init; } }"
        },
        {
            "LW0013",
            "public partial struct {|LoadwiseAccessor|} { [Node] public string Id { get; init; } }",
            "public partial struct Accessor { [Node] public string Id { get; init; } }"
        },
        {
            "LW0014",
            "public partial struct Backend { [{|Node|}] public Key Id { get; init; } internal readonly record struct Key(int Value); }",
            "public partial struct Backend { [Node] public Key Id { get; init; } public readonly record struct Key(int Value); }"
        },
        {
            "LW0014",
            "internal static partial class Pool { private partial struct Member { [{|Node|}] public Key Id { get; init; } private readonly record struct Key(int Value); } }",
            "internal static partial class Pool { private partial struct Member { [Node] public Key Id { get; init; } internal readonly record struct Key(int Value); } }"
        },
        {
            "LW0015",
            "public partial record Backend([property: {|Node|}] string Address);",
            "public partial record Backend(string Address) { [Node] public string Address { get; init; } = Address; }"
        },
        {
            "LW0016",
            "public partial struct Backend { [{|Priority|}] public double Tier { get; init; } }",
            "public partial struct Backend { [Priority] public int Tier { get; init; } }"
        },
        {
            "LW0016",
            "public enum Tier { Primary, Backup } public partial struct Backend { [{|Priority|}] public Tier Level { get; init; } }",
            "public partial struct Backend { [Priority] public byte Level { get; init; } }"
        },
        {
            "LW0017",
            "public partial class Backend { [Priority] public int Tier { get; init; } = {|40|}; }",
            "public partial class Backend { [Priority] public int Tier { get; init; } = 31; }"
        },
        {
            "LW0017",
            "public partial class Backend { [Priority] public int Tier = {|-1|}; }",
            "public partial class Backend { [Priority] public int Tier = 0; }"
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Wrong_code_reports_the_id_at_the_marked_span_and_the_fix_removes_it(string id, string wrong, string right)
    {
        (string source, TextSpan expectedSpan) = ParseMarkup(wrong);
        var (result, output) = GeneratorHarness.Run(GeneratorHarness.Compile("using Loadwise;\n" + source));
        Assert.All(result.Results, r => Assert.Null(r.Exception));

        Diagnostic[] reported = [.. GeneratorHarness.Analyze(output).Where(d => d.Id.StartsWith("LW", StringComparison.Ordinal))];

        Diagnostic diagnostic = Assert.Single(reported);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal("Input0.cs", diagnostic.Location.SourceTree!.FilePath);
        Assert.Equal(expectedSpan.Start + "using Loadwise;\n".Length, diagnostic.Location.SourceSpan.Start);
        Assert.Equal(expectedSpan.Length, diagnostic.Location.SourceSpan.Length);
        Assert.StartsWith("https://", diagnostic.Descriptor.HelpLinkUri, StringComparison.Ordinal);
        Assert.EndsWith("docs/diagnostics.md#" + id.ToLowerInvariant(), diagnostic.Descriptor.HelpLinkUri, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(diagnostic.Descriptor.Category));

        var (_, fixedOutput) = GeneratorHarness.Run(GeneratorHarness.Compile("using Loadwise;\n" + right));
        Diagnostic[] afterFix = [.. GeneratorHarness.Analyze(fixedOutput).Where(d => d.Severity >= DiagnosticSeverity.Warning && d.Id != "CS1591")];
        Assert.True(afterFix.Length == 0, GeneratorHarness.Format(afterFix));
        Assert.Contains(fixedOutput.SyntaxTrees, t => t.FilePath.EndsWith(".g.cs", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_descriptor_is_an_error_with_a_category_a_help_link_and_a_test_case()
    {
        HashSet<string> tested = [.. Cases.Select(row => (string)row.Data.Item1)];
        Assert.Equal(DiagnosticDescriptors.All.Length, DiagnosticDescriptors.All.Select(d => d.Id).Distinct().Count());
        Assert.All(DiagnosticDescriptors.All, d =>
        {
            Assert.Matches("^LW\\d{4}$", d.Id);
            Assert.Contains(d.Id, tested);
            Assert.Equal(DiagnosticSeverity.Error, d.DefaultSeverity);
            Assert.StartsWith("Loadwise.", d.Category, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Every_descriptor_is_listed_in_the_release_files_and_documented()
    {
        string root = RepositoryPaths.Root;
        string releases = File.ReadAllText(Path.Combine(root, "src/Loadwise.Generators/AnalyzerReleases.Unshipped.md"))
            + File.ReadAllText(Path.Combine(root, "src/Loadwise.Generators/AnalyzerReleases.Shipped.md"));
        string docs = File.ReadAllText(Path.Combine(root, "docs/diagnostics.md"));
        Assert.All(DiagnosticDescriptors.All, d =>
        {
            Assert.Contains(d.Id + " |", releases, StringComparison.Ordinal);
            Assert.Contains("## " + d.Id, docs, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Half_typed_code_reports_no_LW_diagnostic_and_no_generator_error()
    {
        var (result, output) = GeneratorHarness.Run(GeneratorHarness.Compile(
            "using Loadwise; public partial struct Backend { [Weighted] public Missing Weight { get; init; } [LoadMetric] public double }"));

        Assert.All(result.Results, r => Assert.Null(r.Exception));
        Assert.Empty(GeneratorHarness.Analyze(output).Where(d => d.Id.StartsWith("LW", StringComparison.Ordinal) || d.Id == "AD0001"));
    }

    internal static (string Source, TextSpan Span) ParseMarkup(string markup)
    {
        int start = markup.IndexOf("{|", StringComparison.Ordinal);
        int end = markup.IndexOf("|}", StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "markup needs {|...|}");
        string source = markup.Remove(end, 2).Remove(start, 2);
        return (source, new TextSpan(start, end - start - 2));
    }
}
