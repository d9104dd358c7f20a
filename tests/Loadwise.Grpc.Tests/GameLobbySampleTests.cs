using GrpcGameLobby;

namespace Loadwise.Grpc.Tests;

[Collection(ServerCollection.Name)]
public sealed class GameLobbySampleTests
{
    [Fact]
    public async Task Stopping_a_lobby_server_moves_only_its_players()
    {
        var output = new StringWriter();

        LobbyReport report = await LobbyDemo.RunAsync(players: 150, output, TestContext.Current.CancellationToken);

        Assert.Equal(0, report.Failed);
        Assert.InRange(report.OnStoppedServer, 1, 149);
        Assert.Equal(report.OnStoppedServer, report.Moved);
        Assert.Equal(0, report.MovedFromElsewhere);
        Assert.Contains($"{report.Moved} players moved; {report.OnStoppedServer} were on lobby-2; 0 moved from a server that kept running.", output.ToString(), StringComparison.Ordinal);
    }
}
