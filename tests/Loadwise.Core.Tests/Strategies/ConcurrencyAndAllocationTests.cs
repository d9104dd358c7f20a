namespace Loadwise.Tests.Strategies;

public class ConcurrencyAndAllocationTests
{
    public static TheoryData<string> Strategies => Nodes.StrategyNames();

    [Theory]
    [MemberData(nameof(Strategies))]
    public void Hammered_from_several_threads_every_index_is_in_range(string name)
    {
        var strategy = Nodes.Strategy(name);
        var nodes = Nodes.Named(17).Select((n, i) => n with { Weight = 1 + (i % 4), LoadScore = i % 5, RemainingRatio = i / 17.0 }).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            try
            {
                for (int i = 0; i < 20_000; i++)
                {
                    var context = new SelectionContext { HashKey = (ulong)(i * 31 + t) };
                    if (!strategy.TrySelect(nodes, in context, out int index) || (uint)index >= (uint)nodes.Length)
                    {
                        failures.Add($"thread {t} pick {i}: {index}");
                    }
                }
            }
            catch (Exception error)
            {
                failures.Add(error.ToString());
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(failures);
    }

    [Fact]
    public void RoundRobin_spreads_evenly_across_threads()
    {
        var strategy = new RoundRobin<string>();
        string[] nodes = ["a", "b", "c", "d", "e"];
        const int PerThread = 50_000;
        var counts = new int[4][];
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            counts[t] = new int[nodes.Length];
            for (int i = 0; i < PerThread; i++)
            {
                strategy.TrySelect(nodes, SelectionContext.Empty, out int index);
                counts[t][index]++;
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        // 200,000 picks = 40,000 full cycles: every node got exactly one pick per cycle.
        var totals = Enumerable.Range(0, nodes.Length).Select(n => counts.Sum(c => c[n])).ToArray();
        Assert.All(totals, total => Assert.InRange(total, 4 * PerThread / nodes.Length - 1, 4 * PerThread / nodes.Length + 1));
    }

    [Theory]
    [MemberData(nameof(Strategies))]
    public void Picks_allocate_nothing_after_warm_up(string name)
    {
        var strategy = Nodes.Strategy(name);
        var nodes = Nodes.Named(300).Select((n, i) => n with { Weight = 1 + (i % 3), LoadScore = i % 7 }).ToArray();
        Span<ulong> bits = stackalloc ulong[CandidateMask.WordsFor(nodes.Length)];
        var mask = new CandidateMask(bits, nodes.Length);
        mask.Exclude(5);

        void Run(int picks, CandidateMask m)
        {
            for (int i = 0; i < picks; i++)
            {
                var plain = new SelectionContext { HashKey = (ulong)i };
                strategy.TrySelect(nodes, in plain, out _);
                var masked = new SelectionContext { HashKey = (ulong)i, Mask = m };
                strategy.TrySelect(nodes, in masked, out _);
            }
        }

        Run(2_000, mask);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(10_000, mask);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }
}
