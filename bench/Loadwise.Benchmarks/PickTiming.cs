using System.Diagnostics;

namespace Loadwise.Benchmarks;

/// <summary>
/// A best-of timing of one pick for the new strategies and their baselines, on the same nodes as the BenchmarkDotNet
/// benchmarks: each figure is the fastest of 50 runs of 100 x 1,024 picks, which on a shared, loaded machine is closer
/// to the unloaded cost than a mean or a median. It complements <see cref="HashingBenchmarks"/> and
/// <see cref="LoadAwareBenchmarks"/>; it does not replace them. Run:
/// <c>dotnet run -c Release --project bench/Loadwise.Benchmarks -- pick-timing</c>.
/// </summary>
public static class PickTiming
{
    private const int Picks = 1024;

    public static void Run()
    {
        Console.WriteLine("| N | ring | Maglev | bounded ring | bounded Maglev | PowerOfTwoChoices | WeightedLeastRequest | PeakEwma |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int n in new[] { 3, 16, 64, 1000 })
        {
            BenchNode[] nodes = BenchNode.Create(n);
            var random = new System.Random(7);
            ulong[] keys = [.. Enumerable.Range(0, Picks).Select(_ => (ulong)random.NextInt64())];
            int tableSize = n * 100 < 65_537 ? 65_537 : 655_373;
            var loads = new InFlightLoads<BenchNode>(new InFlightCounter(n));
            var tracker = new PeakEwmaTracker(n);
            for (int i = 0; i < n; i++)
            {
                tracker.Begin(i);
                tracker.Report(i, TimeSpan.FromMilliseconds(1 + (i % 9)));
            }

            var ring = ConsistentHash.For<BenchNode, string>();
            var maglev = Maglev.For<BenchNode, string>(tableSize);
            var boundedRing = BoundedLoad.Over(ConsistentHash.For<BenchNode, string>(), loads);
            var boundedMaglev = BoundedLoad.Over(Maglev.For<BenchNode, string>(tableSize), loads);
            var powerOfTwo = PowerOfTwoChoices.For<BenchNode>();
            var weightedLeastRequest = WeightedLeastRequest.For<BenchNode>();
            var peakEwma = new PeakEwma<BenchNode>(tracker);

            // One lambda per strategy: each call site sees one concrete type, as in the BenchmarkDotNet rows.
            double[] nanoseconds =
            [
                Best(() => { int sum = 0; foreach (ulong key in keys) { ring.TrySelect(nodes, new SelectionContext { HashKey = key }, out int i); sum += i; } return sum; }),
                Best(() => { int sum = 0; foreach (ulong key in keys) { maglev.TrySelect(nodes, new SelectionContext { HashKey = key }, out int i); sum += i; } return sum; }),
                Best(() => { int sum = 0; foreach (ulong key in keys) { boundedRing.TrySelect(nodes, new SelectionContext { HashKey = key }, out int i); sum += i; } return sum; }),
                Best(() => { int sum = 0; foreach (ulong key in keys) { boundedMaglev.TrySelect(nodes, new SelectionContext { HashKey = key }, out int i); sum += i; } return sum; }),
                Best(() => { int sum = 0; for (int k = 0; k < Picks; k++) { powerOfTwo.TrySelect(nodes, SelectionContext.Empty, out int i); sum += i; } return sum; }),
                Best(() => { int sum = 0; for (int k = 0; k < Picks; k++) { weightedLeastRequest.TrySelect(nodes, SelectionContext.Empty, out int i); sum += i; } return sum; }),
                Best(() => { int sum = 0; for (int k = 0; k < Picks; k++) { peakEwma.TrySelect(nodes, SelectionContext.Empty, out int i); sum += i; } return sum; }),
            ];
            var figures = nanoseconds.Select(ns => ns.ToString("F1", System.Globalization.CultureInfo.InvariantCulture));
            Console.WriteLine($"| {n} | {string.Join(" | ", figures)} |");
        }

        var hundred = BenchNode.Create(100);
        var builds = new List<double>();
        for (int i = 0; i < 21; i++)
        {
            long start = Stopwatch.GetTimestamp();
            Maglev.For<BenchNode, string>(65_537).TrySelect(hundred, new SelectionContext { HashKey = 1 }, out _);
            builds.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        builds.Sort();
        Console.WriteLine($"Maglev build, 100 nodes, M = 65,537: fastest {builds[0]:F2} ms, median {builds[10]:F2} ms of 21");
    }

    private static double Best(Func<int> picks)
    {
        for (int i = 0; i < 100; i++)
        {
            picks();
        }

        double best = double.MaxValue;
        for (int run = 0; run < 50; run++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < 100; i++)
            {
                picks();
            }

            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalNanoseconds / (100.0 * Picks));
        }

        return best;
    }
}
