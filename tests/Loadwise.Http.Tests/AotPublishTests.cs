using System.Diagnostics;
using Loadwise.Tests.Shared;

namespace Loadwise.Http.Tests;

public class AotPublishTests
{
    /// <summary>
    /// Publishes tests/Loadwise.Http.AotSmoke (configuration binding, AddLoadwise by name, the provider, a load-balanced
    /// HttpClient) as native AOT: the publish must report no warning at all (trim, AOT, or any other), and the binary
    /// must work. About two minutes on a quiet machine, mostly the native compiler.
    /// </summary>
    [Fact]
    public async Task A_native_aot_app_using_hosting_and_http_publishes_without_warnings_and_runs()
    {
        string project = Path.Combine(RepositoryRoot.Path, "tests", "Loadwise.Http.AotSmoke", "Loadwise.Http.AotSmoke.csproj");
        string output = Path.Combine(Path.GetTempPath(), "loadwise-aot-smoke-" + Guid.NewGuid().ToString("N"));
        try
        {
            (int exit, string log) = await RunAsync("dotnet", ["publish", project, "-c", "Release", "-r", "linux-x64", "-o", output, "--nologo", "-v", "minimal", "-p:TreatWarningsAsErrors=false"]);
            Assert.True(exit == 0, log);
            string[] warnings = [.. log.Split('\n').Where(l => l.Contains("warning", StringComparison.OrdinalIgnoreCase)).Distinct()];
            Assert.True(warnings.Length == 0, string.Join('\n', warnings));

            (int ran, string printed) = await RunAsync(Path.Combine(output, "Loadwise.Http.AotSmoke"), []);
            Assert.True(ran == 0, printed);
            Assert.Contains("AOT-SMOKE-OK", printed, StringComparison.Ordinal);
            Assert.Contains("PowerOfTwoChoices", printed, StringComparison.Ordinal); // the strategy name came from bound configuration
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        Task<string> stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(8));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
