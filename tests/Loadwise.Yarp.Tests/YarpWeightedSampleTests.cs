using YarpWeighted;

namespace Loadwise.Yarp.Tests;

/// <summary>The YarpWeighted sample, run as its self-check runs it: its appsettings.json, stand-in destinations, real traffic.</summary>
public sealed class YarpWeightedSampleTests
{
    [Fact]
    public async Task The_sample_splits_the_catalog_3_to_1_keeps_the_backup_idle_and_keeps_players_on_one_lobby()
    {
        var output = new StringWriter();

        DemoReport report = await WeightedDemo.RunAsync(catalogRequests: 40, players: 30, output);

        string printed = output.ToString();
        Assert.True(report.Catalog.GetValueOrDefault("big") == 30 && report.Catalog.GetValueOrDefault("small") == 10, printed);
        Assert.False(report.Catalog.ContainsKey("spare"), printed);
        Assert.True(report.StickyPlayers == 30 && report.Lobbies.Count == 3, printed);
        Assert.Contains("catalog (Loadwise.WeightedRoundRobin", printed, StringComparison.Ordinal);
    }
}
