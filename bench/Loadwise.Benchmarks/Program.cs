using BenchmarkDotNet.Running;

// Run all: dotnet run -c Release --project bench/Loadwise.Benchmarks -- --filter '*'
// Prove they start (CI): add --job Dry
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
