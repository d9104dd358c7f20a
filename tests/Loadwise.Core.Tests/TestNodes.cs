namespace Loadwise.Tests;

/// <summary>A node with every capability, implemented by hand.</summary>
public readonly record struct TestNode(string Id, int Weight = 1, double LoadScore = 0, double RemainingRatio = 1)
    : INode<string>, IWeighted, ILoadMetric, IRemainingCapacity;

public static class Nodes
{
    public static TestNode[] Named(int count, int weight = 1) =>
        Enumerable.Range(0, count).Select(i => new TestNode($"node-{i}", weight)).ToArray();

    public static TestNode[] Weighted(params int[] weights) =>
        weights.Select((w, i) => new TestNode(((char)('a' + i)).ToString(), w)).ToArray();

    public static TestNode[] Loaded(params double[] loads) =>
        loads.Select((l, i) => new TestNode($"node-{i}", 1, l)).ToArray();

    public static TestNode[] WithRatios(params double[] ratios) =>
        ratios.Select((r, i) => new TestNode($"node-{i}", 1, 0, r)).ToArray();

    /// <summary>One of every strategy over <see cref="TestNode"/>, seeded where random.</summary>
    public static IEnumerable<ISelectionStrategy<TestNode>> AllStrategies(ulong seed = 1) =>
    [
        new RoundRobin<TestNode>(),
        new Random<TestNode>(seed),
        WeightedRandom.For<TestNode>(seed),
        WeightedRoundRobin.For<TestNode, string>(),
        LeastLoad.For<TestNode>(),
        PowerOfTwoChoices.For<TestNode>(seed),
        ConsistentHash.For<TestNode, string>(),
        MostAvailable.For<TestNode>(),
        Maglev.For<TestNode, string>(),
        WeightedLeastRequest.For<TestNode>(seed: seed),
    ];

    public static TheoryData<string> StrategyNames() =>
        new(AllStrategies().Select(s => s.Name));

    public static ISelectionStrategy<TestNode> Strategy(string name, ulong seed = 1) =>
        AllStrategies(seed).Single(s => s.Name == name);
}

/// <summary>Pearson's chi-squared goodness-of-fit, with an exact p-value from the regularized upper incomplete gamma.</summary>
public static class ChiSquared
{
    public static double PValue(long[] observed, double[] expectedShares)
    {
        long total = observed.Sum();
        double statistic = 0;
        int degrees = -1;
        for (int i = 0; i < observed.Length; i++)
        {
            double expected = total * expectedShares[i];
            if (expected == 0)
            {
                Assert.Equal(0, observed[i]);
                continue;
            }

            statistic += (observed[i] - expected) * (observed[i] - expected) / expected;
            degrees++;
        }

        return UpperRegularizedGamma(degrees / 2.0, statistic / 2.0);
    }

    public static double PValueUniform(long[] observed) =>
        PValue(observed, Enumerable.Repeat(1.0 / observed.Length, observed.Length).ToArray());

    // Q(a, x) = 1 - P(a, x): series for x < a + 1, continued fraction (Lentz) otherwise.
    private static double UpperRegularizedGamma(double a, double x)
    {
        if (x <= 0)
        {
            return 1;
        }

        double logPrefix = (a * Math.Log(x)) - x - LogGamma(a);
        if (x < a + 1)
        {
            double term = 1 / a, sum = term;
            for (int n = 1; n < 10_000 && Math.Abs(term) > Math.Abs(sum) * 1e-15; n++)
            {
                term *= x / (a + n);
                sum += term;
            }

            return 1 - (sum * Math.Exp(logPrefix));
        }

        double b = x + 1 - a, c = 1e300, d = 1 / b, h = d;
        for (int i = 1; i < 10_000; i++)
        {
            double an = -i * (i - a);
            b += 2;
            d = (an * d) + b;
            d = Math.Abs(d) < 1e-300 ? 1e-300 : d;
            c = b + (an / c);
            c = Math.Abs(c) < 1e-300 ? 1e-300 : c;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-15)
            {
                break;
            }
        }

        return Math.Exp(logPrefix) * h;
    }

    private static double LogGamma(double x)
    {
        // Lanczos approximation (g = 7, n = 9).
        double[] g = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
        x -= 1;
        double a = g[0];
        double t = x + 7.5;
        for (int i = 1; i < 9; i++)
        {
            a += g[i] / (x + i);
        }

        return (0.5 * Math.Log(2 * Math.PI)) + ((x + 0.5) * Math.Log(t)) - t + Math.Log(a);
    }
}
