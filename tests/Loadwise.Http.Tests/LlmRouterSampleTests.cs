using LlmRouter;

namespace Loadwise.Http.Tests;

public class LlmRouterSampleTests
{
    [Fact]
    public async Task The_router_never_takes_a_429_and_refuses_what_the_fleet_cannot_take()
    {
        var output = new StringWriter();
        IReadOnlyList<PhaseReport> phases = await RouterDemo.RunAsync(new DemoSettings(WindowSeconds: 2, PhaseSeconds: 3), output, TestContext.Current.CancellationToken);
        string printed = output.ToString();

        PhaseReport threeTimesOne = phases[0];
        Assert.True(threeTimesOne.RateLimited == 0, printed);
        Assert.True(threeTimesOne.Served == threeTimesOne.Sent && threeTimesOne.OtherFailures == 0, printed);
        Assert.All(threeTimesOne.Providers, p => Assert.True(p.Share > 0.15, printed)); // every provider takes a share
        Assert.True(threeTimesOne.Providers[1].Requests > threeTimesOne.Providers[0].Requests, printed); // beta has twice alpha's room

        PhaseReport beyondFleet = phases[1];
        Assert.True(beyondFleet.RateLimited == 0, printed);
        Assert.True(beyondFleet.RefusedLocally > 0 && beyondFleet.OtherFailures == 0, printed);
        Assert.Contains("refused locally (no provider had room)", printed, StringComparison.Ordinal);
    }
}
