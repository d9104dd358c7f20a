using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Loadwise.Benchmarks;

/// <summary>
/// The job sets benchmark classes ask for. With <c>LOADWISE_BENCH_DRY=1</c> (CI's "benchmarks start" step) each is the
/// one dry job instead: the command line's <c>--job Dry</c> cannot replace a class's own jobs, only add to them.
/// </summary>
internal static class BenchmarkJobs
{
    private static bool Dry => Environment.GetEnvironmentVariable("LOADWISE_BENCH_DRY") == "1";

    /// <summary>Short runs with dynamic PGO on and off, side by side.</summary>
    internal sealed class PgoConfig : ManualConfig
    {
        public PgoConfig()
        {
            if (Dry)
            {
                AddJob(Job.Dry);
                return;
            }

            AddJob(Job.ShortRun.WithId("PGO"));
            AddJob(Job.ShortRun.WithEnvironmentVariable("DOTNET_TieredPGO", "0").WithId("NoPGO"));
        }
    }

    /// <summary>A short run.</summary>
    internal sealed class ShortRun : ManualConfig
    {
        public ShortRun() => AddJob(Dry ? Job.Dry : Job.ShortRun);
    }

    /// <summary>A short run in the benchmark process itself (no separate build: loopback servers start once).</summary>
    internal sealed class InProcessShortRun : ManualConfig
    {
        public InProcessShortRun() => AddJob((Dry ? Job.Dry : Job.ShortRun).WithToolchain(InProcessEmitToolchain.Instance));
    }
}
