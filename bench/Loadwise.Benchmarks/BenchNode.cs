namespace Loadwise.Benchmarks;

/// <summary>A node implementing every capability by hand; the built-in accessors read it without interface dispatch.</summary>
public readonly record struct BenchNode(string Id, int Weight, double LoadScore, double RemainingRatio)
    : INode<string>, IWeighted, ILoadMetric, IRemainingCapacity
{
    public static BenchNode[] Create(int count, int seed = 42)
    {
        var random = new System.Random(seed);
        var nodes = new BenchNode[count];
        for (int i = 0; i < count; i++)
        {
            nodes[i] = new BenchNode($"10.0.{i / 250}.{i % 250}:8080", 1 + random.Next(5), random.Next(1000), random.NextDouble());
        }

        return nodes;
    }
}
