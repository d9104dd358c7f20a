using Loadwise;

// The README's second and third examples (a generated node, the front door), compiled and run by CI's quickstart step. DocumentationExcerptTests checks
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

    public static void FrontDoor()
    {
        Api[] apis = [new("api-a", 1), new("api-b", 5), new("api-c", 3)];
        LoadBalancer<Api> balancer = LoadBalancer.For<Api>()
            .UseLeastLoad()                                 // or .UseStrategy("LeastLoad") from configuration
            .WithHealth()                                   // 3 failures in a row: Unhealthy; probe after 10 s
            .Build(apis);
        for (int i = 0; i < 3; i++)
        {
            NodeLease<Api> call = balancer.Acquire(SelectionContext.Empty);   // api-a, the least loaded
            call.Dispose(Outcome.Failure);                  // or Outcome.Success, Outcome.RateLimited(retryAfter)
        }

        if (balancer.TryAcquire(SelectionContext.Empty, out NodeLease<Api> lease))
        {
            Console.WriteLine($"healthy and least loaded: {lease.Node.Id}");   // api-c: api-a is out
            lease.Dispose(Outcome.Success);                 // counted in flight until now
        }
    }
}
