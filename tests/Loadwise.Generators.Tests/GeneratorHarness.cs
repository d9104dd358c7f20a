using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Loadwise.Generators.Tests;

/// <summary>Builds compilations against the running runtime plus Loadwise.Core, and runs the generator and analyzer.</summary>
internal static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    private static readonly ImmutableArray<MetadataReference> References = LoadReferences();

    public static CSharpCompilation Compile(params string[] sources) =>
        CSharpCompilation.Create(
            "TestAssembly",
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Input{i}.cs")),
            References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver CreateDriver(bool trackSteps = false) =>
        CSharpGeneratorDriver.Create(
            [new NodeGenerator().AsSourceGenerator()],
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    /// <summary>Runs the generator; returns the run result and the compilation with the generated files added.</summary>
    public static (GeneratorDriverRunResult Result, Compilation Output) Run(Compilation input)
    {
        GeneratorDriver driver = CreateDriver().RunGeneratorsAndUpdateCompilation(input, out Compilation output, out _);
        return (driver.GetRunResult(), output);
    }

    /// <summary>
    /// Runs the generator over one source that declares one node type; requires exactly one generated file, no generator
    /// error, no significant compiler diagnostic and no LW diagnostic in the result; returns the generated text.
    /// </summary>
    public static string GenerateAndCompileCleanly(string source)
    {
        var (result, output) = Run(Compile(source));

        Assert.All(result.Results, r => Assert.Null(r.Exception));
        Assert.Empty(result.Diagnostics);
        GeneratedSourceResult generated = Assert.Single(Assert.Single(result.Results).GeneratedSources);
        Diagnostic[] significant = [.. Significant(output.GetDiagnostics(TestContext.Current.CancellationToken))];
        Assert.True(significant.Length == 0, Format(significant));
        Assert.Empty(Analyze(output).Where(d => d.Id.StartsWith("LW", StringComparison.Ordinal)));
        return generated.SourceText.ToString();
    }

    /// <summary>The lines of generated text, trimmed, for assertions on whole lines.</summary>
    public static string[] Lines(string generated) => [.. generated.Split('\n').Select(line => line.Trim())];

    /// <summary>Runs the analyzer over a compilation (normally the generator's output, as a real build does).</summary>
    public static ImmutableArray<Diagnostic> Analyze(Compilation compilation) =>
        compilation.WithAnalyzers([new NodeAnalyzer()], new AnalyzerOptions([])).GetAllDiagnosticsAsync().GetAwaiter().GetResult();

    /// <summary>Compiler diagnostics that matter: errors anywhere, and warnings other than missing docs in the test input.</summary>
    public static IEnumerable<Diagnostic> Significant(IEnumerable<Diagnostic> diagnostics) =>
        diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error
            || (d.Severity == DiagnosticSeverity.Warning && (d.Id != "CS1591" || IsGenerated(d.Location))));

    public static bool IsGenerated(Location location) =>
        location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true;

    public static string Format(IEnumerable<Diagnostic> diagnostics) =>
        string.Join(Environment.NewLine, diagnostics.Select(d => d.ToString()));

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        // The runtime's own assemblies (from the trusted platform list, limited to the shared framework folder) and Core.
        string runtimeDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        string trusted = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        IEnumerable<string> runtime = trusted.Split(Path.PathSeparator)
            .Where(p => string.Equals(Path.GetDirectoryName(p), runtimeDirectory, StringComparison.Ordinal));
        return [.. runtime.Append(typeof(NodeAttribute).Assembly.Location).Distinct().Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))];
    }
}
