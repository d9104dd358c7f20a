using Microsoft.Extensions.Time.Testing;

namespace Loadwise.Tests.Strategies;

public class PeakEwmaTests
{
    private static readonly TimeSpan Tau = TimeSpan.FromSeconds(10);

    [Fact]
    public void A_slower_answer_is_a_new_peak_at_once()
    {
        var time = new FakeTimeProvider();
        var tracker = new PeakEwmaTracker(2, Tau, time);
        tracker.Begin(0);
        tracker.Report(0, TimeSpan.FromMilliseconds(10));
        time.Advance(TimeSpan.FromMilliseconds(1));
        tracker.Begin(0);
        tracker.Report(0, TimeSpan.FromMilliseconds(100));
        Assert.Equal(100, tracker.Average(0).TotalMilliseconds, 3);
    }

    [Fact]
    public void The_average_decays_with_the_time_constant_and_faster_answers_blend_in()
    {
        var time = new FakeTimeProvider();
        var tracker = new PeakEwmaTracker(1, Tau, time);
        tracker.Begin(0);
        tracker.Report(0, TimeSpan.FromMilliseconds(100));
        time.Advance(Tau);
        Assert.Equal(100 * Math.Exp(-1), tracker.Average(0).TotalMilliseconds, 2);
        tracker.Begin(0);
        tracker.Report(0, TimeSpan.FromMilliseconds(10));
        Assert.Equal((100 * Math.Exp(-1)) + (10 * (1 - Math.Exp(-1))), tracker.Average(0).TotalMilliseconds, 2);
    }

    [Fact]
    public void Cost_is_the_average_times_in_flight_plus_one_and_unmeasured_nodes_are_tried_first()
    {
        var time = new FakeTimeProvider();
        var tracker = new PeakEwmaTracker(3, Tau, time);
        tracker.Begin(0);
        tracker.Report(0, TimeSpan.FromMilliseconds(5));
        tracker.Begin(0);
        tracker.Begin(0);
        Assert.Equal(TimeSpan.FromMilliseconds(5).Ticks * 3, tracker.Cost(0), 6);
        Assert.Equal(0, tracker.Cost(1)); // never measured, nothing in flight: tried first
        tracker.Begin(1);
        Assert.True(tracker.Cost(1) >= PeakEwmaTracker.UnmeasuredPenalty); // its first request has not answered yet

        var strategy = new PeakEwma<string>(tracker, seed: 1);
        string[] nodes = ["a", "b", "c"];
        int unmeasured = 0;
        for (int i = 0; i < 300; i++)
        {
            Assert.True(strategy.TrySelect(nodes, SelectionContext.Empty, out int index));
            Assert.NotEqual(1, index); // awaiting its first answer: loses to both others
            unmeasured += index == 2 ? 1 : 0;
        }

        Assert.InRange(unmeasured, 170, 230); // the idle unmeasured node wins whenever it is sampled: 2 pairs of 3
    }

    // One backend turns 10x slower (100 ms against 10 ms) under open-loop traffic of one request per ms; returns the
    // share of the requests after the change that it still receives.
    private static double SlowShare(bool peakEwma)
    {
        const int Backends = 10, Requests = 30_000, Change = 5_000;
        var time = new FakeTimeProvider();
        var tracker = new PeakEwmaTracker(Backends, Tau, time);
        var ewma = new PeakEwma<TestNode>(tracker, seed: 4);
        var leastRequest = PowerOfTwoChoices.For<TestNode>(seed: 4);
        var nodes = Nodes.Named(Backends);
        var completions = new PriorityQueue<(int Node, long Sent), long>();
        long slowPicks = 0;
        for (int ms = 0; ms < Requests; ms++)
        {
            while (completions.TryPeek(out var done, out long at) && at <= ms)
            {
                completions.Dequeue();
                time.Advance(TimeSpan.FromMilliseconds(at) - (time.GetUtcNow() - FakeStart));
                tracker.Report(done.Node, TimeSpan.FromMilliseconds(at - done.Sent));
                nodes[done.Node] = nodes[done.Node] with { LoadScore = nodes[done.Node].LoadScore - 1 };
            }

            time.Advance(TimeSpan.FromMilliseconds(ms) - (time.GetUtcNow() - FakeStart));
            int index;
            Assert.True(peakEwma
                ? ewma.TrySelect(nodes, SelectionContext.Empty, out index)
                : leastRequest.TrySelect(nodes, SelectionContext.Empty, out index));
            tracker.Begin(index);
            nodes[index] = nodes[index] with { LoadScore = nodes[index].LoadScore + 1 };
            int latency = index == 0 && ms >= Change ? 100 : 10;
            completions.Enqueue((index, ms), ms + latency);
            slowPicks += index == 0 && ms >= Change ? 1 : 0;
        }

        return slowPicks / (double)(Requests - Change);
    }

    private static readonly DateTimeOffset FakeStart = new FakeTimeProvider().GetUtcNow();

    [Fact]
    public void A_backend_that_turns_10x_slower_keeps_less_traffic_than_under_least_request()
    {
        double underEwma = SlowShare(peakEwma: true);
        double underLeastRequest = SlowShare(peakEwma: false);
        Assert.True(underEwma < 0.02, $"peak-EWMA gave the slow backend {underEwma:P2}");
        Assert.True(underEwma < underLeastRequest / 10, $"peak-EWMA {underEwma:P2}, least request {underLeastRequest:P2}");
    }

    [Fact]
    public void Picks_order_nodes_exactly_as_their_costs_do()
    {
        // The pick compares logarithms (no exponential per pick); over random histories that order must be the costs' order.
        var random = new System.Random(12);
        var time = new FakeTimeProvider();
        var tracker = new PeakEwmaTracker(8, Tau, time);
        for (int step = 0; step < 3_000; step++)
        {
            int node = random.Next(8);
            if (random.Next(3) == 0)
            {
                tracker.Begin(node);
            }
            else
            {
                tracker.Report(node, TimeSpan.FromMilliseconds(random.Next(1, 500)));
            }

            time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 4_000)));
            int a = random.Next(8), b = random.Next(8);
            double costA = tracker.Cost(a), costB = tracker.Cost(b);
            if (Math.Abs(costA - costB) > 1e-9 * Math.Max(costA, costB))
            {
                Assert.Equal(costA < costB, tracker.Rank(a) < tracker.Rank(b));
            }
        }
    }

    [Fact]
    public void Masks_are_honoured_and_bad_arguments_are_named()
    {
        var tracker = new PeakEwmaTracker(4);
        var strategy = new PeakEwma<string>(tracker, seed: 2);
        string[] nodes = ["a", "b", "c", "d"];
        var mask = new CandidateMask(new ulong[1], 4, allowAll: false);
        mask.Allow(1);
        mask.Allow(3);
        for (int i = 0; i < 200; i++)
        {
            var context = new SelectionContext { Mask = mask };
            Assert.True(strategy.TrySelect(nodes, in context, out int index));
            Assert.True(index is 1 or 3);
        }

        Assert.Equal("decay", Assert.Throws<ArgumentOutOfRangeException>(() => new PeakEwmaTracker(1, TimeSpan.Zero)).ParamName);
        Assert.Equal("index", Assert.Throws<ArgumentOutOfRangeException>(() => tracker.Report(4, TimeSpan.Zero)).ParamName);
    }

    [Fact]
    public void Picks_allocate_nothing()
    {
        var tracker = new PeakEwmaTracker(64);
        var strategy = new PeakEwma<string>(tracker);
        var nodes = Enumerable.Range(0, 64).Select(i => $"n{i}").ToArray();
        // The warm-up runs the whole loop body once, so one-time static initialisation (the tracker's tables) is not measured.
        strategy.TrySelect(nodes, SelectionContext.Empty, out int first);
        tracker.Begin(first);
        tracker.Report(first, TimeSpan.FromMilliseconds(1));
        strategy.TrySelect(nodes, SelectionContext.Empty, out _);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            strategy.TrySelect(nodes, SelectionContext.Empty, out int index);
            tracker.Begin(index);
            tracker.Report(index, TimeSpan.FromMilliseconds(i % 7));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
