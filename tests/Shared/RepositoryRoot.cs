namespace Loadwise.Tests.Shared;

/// <summary>
/// Finds the repository from the test binary's folder. [CallerFilePath] cannot be used: CI builds are deterministic
/// with the source root mapped to "/_/", so compiled-in paths do not exist on disk. Linked into each test project.
/// </summary>
internal static class RepositoryRoot
{
    /// <summary>Gets the folder that holds Loadwise.sln.</summary>
    public static string Path { get; } = Find();

    private static string Find()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(System.IO.Path.Combine(directory, "Loadwise.sln")))
        {
            directory = System.IO.Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException(
            $"Loadwise.sln not found above {AppContext.BaseDirectory}; run the tests from a checkout of the repository.");
    }
}
