using System.Text;

namespace Loadwise.Generators.Tests;

/// <summary>
/// The smallest golden-file check: compares text with Snapshots/NAME.verified.cs in this test project's source folder. A mismatch
/// writes NAME.received.cs and fails with a line diff; LOADWISE_ACCEPT_SNAPSHOTS=1 writes the verified file instead.
/// </summary>
internal static class Snapshot
{
    public static void Verify(string actual, string name)
    {
        string directory = Path.Combine(RepositoryPaths.TestProject, "Snapshots");
        string verifiedPath = Path.Combine(directory, name + ".verified.cs");
        string receivedPath = Path.Combine(directory, name + ".received.cs");
        actual = actual.Replace("\r\n", "\n", StringComparison.Ordinal);

        if (Environment.GetEnvironmentVariable("LOADWISE_ACCEPT_SNAPSHOTS") == "1")
        {
            Directory.CreateDirectory(directory);
            File.WriteAllText(verifiedPath, actual);
            File.Delete(receivedPath);
            return;
        }

        string? expected = File.Exists(verifiedPath) ? File.ReadAllText(verifiedPath).Replace("\r\n", "\n", StringComparison.Ordinal) : null;
        if (expected == actual)
        {
            File.Delete(receivedPath);
            return;
        }

        Directory.CreateDirectory(directory);
        File.WriteAllText(receivedPath, actual);
        string message = expected is null
            ? $"No snapshot {verifiedPath}. Review {receivedPath}, then rename it or run with LOADWISE_ACCEPT_SNAPSHOTS=1."
            : $"Snapshot {name} differs (wrote {receivedPath}; accept with LOADWISE_ACCEPT_SNAPSHOTS=1):\n{Diff(expected, actual)}";
        Assert.Fail(message);
    }

    /// <summary>A plain line diff: lines only in the expected text are '-', only in the actual text '+'.</summary>
    internal static string Diff(string expected, string actual)
    {
        string[] a = expected.Split('\n');
        string[] b = actual.Split('\n');
        int[,] lcs = new int[a.Length + 1, b.Length + 1];
        for (int i = a.Length - 1; i >= 0; i--)
        {
            for (int j = b.Length - 1; j >= 0; j--)
            {
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            }
        }

        var diff = new StringBuilder();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y])
            {
                x++;
                y++;
            }
            else if (y < b.Length && (x == a.Length || lcs[x, y + 1] >= lcs[x + 1, y]))
            {
                diff.Append("+ ").AppendLine(b[y++]);
            }
            else
            {
                diff.Append("- ").AppendLine(a[x++]);
            }
        }

        return diff.ToString();
    }
}
