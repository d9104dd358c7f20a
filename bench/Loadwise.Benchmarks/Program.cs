using BenchmarkDotNet.Running;
using Loadwise.Benchmarks;

// Run all: dotnet run -c Release --project bench/Loadwise.Benchmarks -- --filter '*'
// Prove they start (CI): LOADWISE_BENCH_DRY=1 and --job Dry (see BenchmarkJobs)
// Hashing distribution and disruption table: dotnet run -c Release --project bench/Loadwise.Benchmarks -- hashing-report
// Best-of pick timing for the new strategies (for loaded machines): ... -- pick-timing
if (args is ["hashing-report", ..])
{
    HashingReport.Run();
    return;
}

if (args is ["pick-timing", ..])
{
    PickTiming.Run();
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
