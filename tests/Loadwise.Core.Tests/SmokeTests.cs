namespace Loadwise.Tests;

public class SmokeTests
{
    [Fact]
    public void RoundRobin_cycles_three_addresses()
    {
        var strategy = new RoundRobin<string>();
        string[] backends = ["a", "b", "c"];
        var picks = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            Assert.True(strategy.TrySelect(backends, SelectionContext.Empty, out int index));
            picks.Add(backends[index]);
        }

        Assert.Equal(["a", "b", "c", "a"], picks);
    }
}
