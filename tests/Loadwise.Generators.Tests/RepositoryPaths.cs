namespace Loadwise.Generators.Tests;

/// <summary>
/// Finds files of the repository from the test binary's folder. [CallerFilePath] cannot be used: CI builds are
/// deterministic with the source root mapped to "/_/", so compiled-in paths do not exist on disk.
/// </summary>
internal static class RepositoryPaths
{
    /// <summary>The folder that holds Loadwise.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>This test project's source folder.</summary>
    public static string TestProject => Path.Combine(Root, "tests", "Loadwise.Generators.Tests");

    private static string FindRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "Loadwise.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException(
            $"Loadwise.sln not found above {AppContext.BaseDirectory}; run the tests from a checkout of the repository.");
    }
}
