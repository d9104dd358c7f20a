using Loadwise;

// The README's first example: a round robin over three addresses.
var strategy = new RoundRobin<string>();
string[] backends = ["10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"];
if (strategy.TrySelect(backends, SelectionContext.Empty, out int first))
{
    Console.WriteLine($"route to {backends[first]}");
}

// Every strategy over nodes that implement the capability interfaces by hand.
Backend[] nodes =
[
    new("api-a", Weight: 5, InFlight: 12, Remaining: 0.40),
    new("api-b", Weight: 1, InFlight: 3, Remaining: 0.90),
    new("api-c", Weight: 1, InFlight: 7, Remaining: 0.89),
];

Show("RoundRobin", new RoundRobin<Backend>());
Show("Random (seed 1)", new Random<Backend>(seed: 1));
Show("WeightedRandom (seed 1)", WeightedRandom.For<Backend>(seed: 1));
Show("WeightedRoundRobin 5:1:1", WeightedRoundRobin.For<Backend, string>());
Show("LeastLoad", LeastLoad.For<Backend>());
Show("PowerOfTwoChoices (seed 1)", PowerOfTwoChoices.For<Backend>(seed: 1));
Show("MostAvailable (eps 0.02)", MostAvailable.For<Backend>(epsilon: 0.02));
Show("ConsistentHash by user", ConsistentHash.For<Backend, string>(), user => $"user-{user % 3}");
Show(
    "ConsistentHash, else RoundRobin (no key)",
    new WithFallback<Backend, ConsistentHash<Backend, string, NodeAccessor<Backend, string>>, RoundRobin<Backend>>(
        ConsistentHash.For<Backend, string>(), new RoundRobin<Backend>()));

// Filters narrow a mask; strategies honour it: here api-a is excluded (say it failed).
Span<ulong> bits = stackalloc ulong[CandidateMask.WordsFor(nodes.Length)];
var mask = new CandidateMask(bits, nodes.Length);
mask.Exclude(0);
var masked = new SelectionContext { Mask = mask };
var leastLoad = LeastLoad.For<Backend>();
leastLoad.TrySelect(nodes, in masked, out int pick);
Console.WriteLine($"{"LeastLoad without api-a",-42} {nodes[pick].Id}");

// The README's other two examples: a generated node, and health + filter + strategy.
ReadmeExamples.GeneratedNode();
ReadmeExamples.FrontDoor();

void Show(string title, ISelectionStrategy<Backend> selector, Func<int, string>? key = null)
{
    var picks = new List<string>();
    for (int i = 0; i < 7; i++)
    {
        var ctx = key is null ? SelectionContext.Empty : SelectionContext.ForKey(key(i));
        picks.Add(selector.TrySelect(nodes, in ctx, out int index) ? nodes[index].Id : "(none)");
    }

    Console.WriteLine($"{title,-42} {string.Join(' ', picks)}");
}

internal readonly record struct Backend(string Id, int Weight, double InFlight, double Remaining)
    : INode<string>, IWeighted, ILoadMetric, IRemainingCapacity
{
    public double LoadScore => InFlight;

    public double RemainingRatio => Remaining;
}
