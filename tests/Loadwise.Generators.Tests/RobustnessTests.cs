using Microsoft.CodeAnalysis;

namespace Loadwise.Generators.Tests;

/// <summary>
/// The generator and analyzer never throw, whatever half-typed code they see: valid inputs are truncated and mutated
/// with a fixed seed, and every run must finish without a generator exception (CS8785) or analyzer exception (AD0001).
/// </summary>
public sealed class RobustnessTests
{
    private const int Seed = 20261122;
    private const int Mutations = 600;

    private static readonly string[] Fragments =
    [
        "partial ", "static ", "ref ", "readonly ", "record ", "class ", "struct ", "interface ", "file ", "[Node]", "[Weighted]",
        "[LoadMetric]", "[RemainingCapacity]", "[Node(", "]", "[", "{", "}", ";", "<T>", "<", ">", "?", "int ", "double ",
        "string ", "object ", "this[int i]", "get;", "set;", "=>", "\"", "/*", "*/", "#if X\n", "#endif\n", "@", "::", "where T : ",
        "public ", "private ", "namespace N;", "namespace M {", "Selectors", "LoadwiseAccessor", "unsafe ", "int* ", "delegate ",
    ];

    [Fact]
    public void Mutated_and_truncated_inputs_never_crash_the_generator_or_the_analyzer()
    {
        string[] valid = [.. SnapshotTests.AllSources];
        var random = new System.Random(Seed);
        int runs = 0;
        int generatedSomething = 0;
        for (int i = 0; i < Mutations; i++)
        {
            string source = Mutate(valid[random.Next(valid.Length)], random);
            var (result, output) = GeneratorHarness.Run(GeneratorHarness.Compile(source));

            foreach (GeneratorRunResult run in result.Results)
            {
                Assert.True(run.Exception is null, $"Generator threw on mutation {i}: {run.Exception}\n---\n{source}");
            }

            Assert.DoesNotContain(result.Diagnostics, d => d.Id == "CS8785");
            Diagnostic[] crashes = [.. GeneratorHarness.Analyze(output).Where(d => d.Id is "AD0001" or "CS8785")];
            Assert.True(crashes.Length == 0, $"mutation {i}: {GeneratorHarness.Format(crashes)}\n---\n{source}");
            generatedSomething += result.Results.Sum(r => r.GeneratedSources.Length) > 0 ? 1 : 0;
            runs++;
        }

        Assert.Equal(Mutations, runs);
        // The mutations are not all fatal: some still generate, so the emitter is exercised on odd input too.
        Assert.InRange(generatedSomething, 1, Mutations - 1);
    }

    private static string Mutate(string source, System.Random random)
    {
        int edits = 1 + random.Next(3);
        for (int e = 0; e < edits && source.Length > 0; e++)
        {
            int at = random.Next(source.Length);
            switch (random.Next(5))
            {
                case 0: // Truncate: the user is still typing.
                    source = source[..at];
                    break;
                case 1: // Delete a span.
                    source = source.Remove(at, Math.Min(source.Length - at, 1 + random.Next(12)));
                    break;
                case 2: // Insert a fragment.
                    source = source.Insert(at, Fragments[random.Next(Fragments.Length)]);
                    break;
                case 3: // Duplicate a line.
                    string[] lines = source.Split('\n');
                    int line = random.Next(lines.Length);
                    source = string.Join('\n', lines.Take(line + 1).Append(lines[line]).Concat(lines.Skip(line + 1)));
                    break;
                default: // Replace a character.
                    source = source.Remove(at, 1).Insert(at, Fragments[random.Next(Fragments.Length)][..1]);
                    break;
            }
        }

        return source;
    }
}
