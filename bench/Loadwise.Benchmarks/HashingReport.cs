namespace Loadwise.Benchmarks;

/// <summary>
/// Distribution quality of every hashing variant on the same keys: the highest node load over the average, and the
/// keys that change node when one node is added or removed. Each key is one request that stays in flight, so the
/// bounded variants see the load the keys make. Run: <c>dotnet run -c Release --project bench/Loadwise.Benchmarks -- hashing-report</c>.
/// </summary>
public static class HashingReport
{
    private const int Keys = 1_000_000;

    public static void Run()
    {
        ulong[] keys = Enumerable.Range(0, Keys).Select(k => StableHash.Hash((long)k)).ToArray();
        ulong[] zipf = Zipf(Keys, distinct: 100_000);
        Console.WriteLine($"keys: {Keys:N0}, uniform (Zipf column: {Keys:N0} requests over 100,000 keys, Zipf s = 1.0); every key or request stays in flight; weights all 1; c = 1.25; Maglev M = 65,537 below 655 nodes, else 655,373");
        Console.WriteLine();
        Console.WriteLine("| N | variant | max/avg load | ideal max/avg at this key count | max/avg, Zipf requests | moved on add (share) | moved on remove (share) |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|---:|");
        foreach (int n in new[] { 10, 100, 1000 })
        {
            double ideal = IdealMaxOverAverage(n);
            foreach (string variant in new[] { "ring", "maglev", "bounded ring", "bounded maglev" })
            {
                BenchNode[] nodes = Named(n);
                BenchNode[] added = Named(n + 1);
                BenchNode[] removed = nodes.Where((_, i) => i != n / 2).ToArray();
                int[] before = Route(variant, nodes, keys);
                string[] beforeIds = before.Select(i => nodes[i].Id).ToArray();
                string[] afterAdd = Route(variant, added, keys).Select(i => added[i].Id).ToArray();
                string[] afterRemove = Route(variant, removed, keys).Select(i => removed[i].Id).ToArray();
                double maxOverAverage = before.GroupBy(i => i).Max(g => g.Count()) / ((double)Keys / n);
                double zipfMaxOverAverage = Route(variant, nodes, zipf).GroupBy(i => i).Max(g => g.Count()) / ((double)Keys / n);
                double movedAdd = Moved(beforeIds, afterAdd) / (double)Keys;
                double movedRemove = Moved(beforeIds, afterRemove) / (double)Keys;
                Console.WriteLine($"| {n} | {variant} | {maxOverAverage:F3} | {ideal:F3} | {zipfMaxOverAverage:F3} | {movedAdd:P2} | {movedRemove:P2} |");
            }
        }

        Console.WriteLine();
        Console.WriteLine($"one node's share: 1/(N+1) on add = {1.0 / 11:P2}, {1.0 / 101:P2}, {1.0 / 1001:P3}; 1/N on remove = {1.0 / 10:P2}, {1.0 / 100:P2}, {1.0 / 1000:P3}");
    }

    private static BenchNode[] Named(int count) =>
        Enumerable.Range(0, count).Select(i => new BenchNode($"10.0.{i / 250}.{i % 250}:8080", 1, 0, 1)).ToArray();

    private static int Moved(string[] before, string[] after) => before.Zip(after).Count(p => p.First != p.Second);

    private static int[] Route(string variant, BenchNode[] nodes, ulong[] keys)
    {
        int tableSize = nodes.Length * 100 < 65_537 ? 65_537 : 655_373;
        var counter = new InFlightCounter(nodes.Length);
        var loads = new InFlightLoads<BenchNode>(counter);
        ISelectionStrategy<BenchNode> strategy = variant switch
        {
            "ring" => ConsistentHash.For<BenchNode, string>(),
            "maglev" => Maglev.For<BenchNode, string>(tableSize),
            "bounded ring" => BoundedLoad.Over(ConsistentHash.For<BenchNode, string>(), loads),
            _ => BoundedLoad.Over(Maglev.For<BenchNode, string>(tableSize), loads),
        };
        var owners = new int[keys.Length];
        for (int k = 0; k < keys.Length; k++)
        {
            strategy.TrySelect(nodes, new SelectionContext { HashKey = keys[k] }, out owners[k]);
            counter.Begin(owners[k]);
        }

        return owners;
    }

    private static ulong[] Zipf(int count, int distinct)
    {
        var random = new System.Random(5);
        var cumulative = new double[distinct];
        double sum = 0;
        for (int k = 0; k < distinct; k++)
        {
            cumulative[k] = sum += 1.0 / (k + 1);
        }

        return Enumerable.Range(0, count).Select(_ =>
        {
            int k = Array.BinarySearch(cumulative, random.NextDouble() * sum);
            return StableHash.Hash((long)(k < 0 ? ~k : k));
        }).ToArray();
    }

    // The max/avg that a perfectly uniform random assignment of the same number of keys shows (sampling noise alone).
    private static double IdealMaxOverAverage(int n)
    {
        var random = new System.Random(11);
        var counts = new int[n];
        for (int k = 0; k < Keys; k++)
        {
            counts[random.Next(n)]++;
        }

        return counts.Max() / ((double)Keys / n);
    }
}
