using System.Text.RegularExpressions;
using Loadwise.Tests.Shared;

namespace Loadwise.AotProxy.UnitTests;

/// <summary>
/// The house rules a reader relies on, checked over the shipped source: no file over 400 lines, and no cycle between
/// the proxy's namespaces (listener, downstream, router, upstream and the rest depend one way).
/// </summary>
public sealed partial class ArchitectureTests
{
    private const int MaxLines = 400;

    private static string Source => Path.Combine(RepositoryRoot.Path, "src");

    [Fact]
    public void No_source_file_is_over_400_lines()
    {
        string[] tooLong = [.. SourceFiles(Source)
            .Select(file => (file, lines: File.ReadAllLines(file).Length))
            .Where(f => f.lines > MaxLines)
            .Select(f => $"{Path.GetRelativePath(RepositoryRoot.Path, f.file)} ({f.lines})")];
        Assert.True(tooLong.Length == 0, "split by responsibility: " + string.Join(", ", tooLong));
    }

    [Theory]
    [InlineData("Loadwise.AotProxy", "Loadwise.AotProxy")]
    [InlineData("Loadwise.Core", "Loadwise")]
    [InlineData("Loadwise.Generators", "Loadwise.Generators")]
    public void No_namespace_depends_on_one_that_depends_back_on_it(string project, string rootNamespace)
    {
        Dictionary<string, HashSet<string>> dependencies = Dependencies(Path.Combine(Source, project), rootNamespace);
        var cycles = new List<string>();
        foreach ((string from, HashSet<string> targets) in dependencies)
        {
            foreach (string to in targets.Where(to => Reaches(dependencies, to, from)))
            {
                cycles.Add($"{from} -> {to} -> ... -> {from}");
            }
        }

        Assert.True(cycles.Count == 0, string.Join("\n", cycles));
        Assert.NotEmpty(dependencies); // the scan found the namespaces (a wrong path would pass vacuously)
    }

    [Fact]
    public void The_proxy_is_layered_as_documented()
    {
        Dictionary<string, HashSet<string>> dependencies = Dependencies(Path.Combine(Source, "Loadwise.AotProxy"), "Loadwise.AotProxy");

        // The client side knows nothing of the backend side; the router drives both; the transport knows neither.
        Assert.DoesNotContain("Upstream", dependencies["Downstream"]);
        Assert.DoesNotContain("Downstream", dependencies["Upstream"]);
        Assert.DoesNotContain("Downstream", dependencies["Router"]);
        Assert.DoesNotContain("Router", dependencies["Upstream"]);
        Assert.Empty(dependencies.GetValueOrDefault("Listener") ?? []);
        Assert.DoesNotContain("Hosting", dependencies.Where(d => d.Key != "(root)").SelectMany(d => d.Value));
    }

    /// <summary>
    /// Each namespace's references to the project's other namespaces: <c>using</c> directives and qualified names
    /// (sub-namespaces see their parent's types unqualified, so the root is counted where its types are used by name).
    /// </summary>
    private static Dictionary<string, HashSet<string>> Dependencies(string folder, string rootNamespace)
    {
        var dependencies = new Dictionary<string, HashSet<string>>();
        Regex reference = new($@"\b{Regex.Escape(rootNamespace)}\.([A-Z]\w*)");
        foreach (string file in SourceFiles(folder))
        {
            string text = File.ReadAllText(file);
            Match declared = NamespaceDeclaration().Match(text);
            if (!declared.Success || !(declared.Groups[1].Value == rootNamespace || declared.Groups[1].Value.StartsWith(rootNamespace + ".", StringComparison.Ordinal)))
            {
                continue;
            }

            string from = declared.Groups[1].Value == rootNamespace ? "(root)" : declared.Groups[1].Value[(rootNamespace.Length + 1)..].Split('.')[0];
            HashSet<string> targets = dependencies.TryGetValue(from, out HashSet<string>? set) ? set : dependencies[from] = [];
            foreach (Match match in reference.Matches(text))
            {
                string to = match.Groups[1].Value;
                if (to != from && Directory.Exists(Path.Combine(folder, to)))
                {
                    targets.Add(to);
                }
            }
        }

        return dependencies;
    }

    private static bool Reaches(Dictionary<string, HashSet<string>> dependencies, string start, string target)
    {
        var seen = new HashSet<string>();
        var pending = new Stack<string>([start]);
        while (pending.TryPop(out string? current))
        {
            if (current == target)
            {
                return true;
            }

            if (seen.Add(current) && dependencies.TryGetValue(current, out HashSet<string>? next))
            {
                foreach (string n in next)
                {
                    pending.Push(n);
                }
            }
        }

        return false;
    }

    private static IEnumerable<string> SourceFiles(string folder) =>
        Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    [GeneratedRegex(@"^namespace ([\w.]+);", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();
}
