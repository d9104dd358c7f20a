using Loadwise.Tests.Shared;

namespace Loadwise.Generators.Tests;

/// <summary>Paths of the repository that the generator tests read and write (see <see cref="RepositoryRoot"/>).</summary>
internal static class RepositoryPaths
{
    /// <summary>Gets the folder that holds Loadwise.sln.</summary>
    public static string Root => RepositoryRoot.Path;

    /// <summary>Gets this test project's source folder.</summary>
    public static string TestProject => Path.Combine(Root, "tests", "Loadwise.Generators.Tests");
}
