using Loadwise;

// The README's second and third examples, compiled and run by CI's quickstart step. DocumentationExcerptTests checks
// that every line of the README's C# blocks appears in this project, so the two cannot drift apart.

public partial struct Server
{
    [Node] public string Address { get; init; }          // identity: ConsistentHash, WeightedRoundRobin
    [LoadMetric] public double InFlight { get; set; }     // load: LeastLoad, PowerOfTwoChoices
}

public sealed record Api(string Id, double LoadScore) : INode<string>, ILoadMetric;

internal static class ReadmeExamples
{
    public static void GeneratedNode()
    {
        Server[] servers = [new() { Address = "10.0.0.1:8080", InFlight = 4 }, new() { Address = "10.0.0.2:8080", InFlight = 1 }];
        var leastLoad = Server.Selectors.LeastLoad();      // LeastLoad<Server, Server.LoadwiseAccessor>: no interface call per node
        if (leastLoad.TrySelect(servers, SelectionContext.Empty, out int least))
        {
            Console.WriteLine($"least loaded: {servers[least].Address}");   // 10.0.0.2:8080
        }
    }

    public static void HealthFilterStrategy()
    {
        Api[] apis = [new("api-a", 1), new("api-b", 5), new("api-c", 3)];
        var tracker = new HealthTracker<string>();          // 3 failures in a row: Unhealthy; probe after 10 s
        var pick = new FilteredStrategy<Api, HealthFilter<Api, string, NodeAccessor<Api, string>>, LeastLoad<Api, LoadAccessor<Api>>>(
            new HealthFilter<Api, string, NodeAccessor<Api, string>>(tracker), LeastLoad.For<Api>());

        for (int i = 0; i < 3; i++)
        {
            tracker.Report("api-a", Outcome.Failure);       // or Outcome.Success, Outcome.RateLimited(retryAfter)
        }

        if (pick.TrySelect(apis, SelectionContext.Empty, out int index))
        {
            Console.WriteLine($"healthy and least loaded: {apis[index].Id}");   // api-c: api-a is out
        }
    }
}
