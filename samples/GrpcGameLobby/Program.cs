using System.Globalization;
using GrpcGameLobby;

// dotnet run --project samples/GrpcGameLobby [-- --players 1000]
// Three in-process lobby servers behind one gRPC channel with Loadwise's loadwise_ring_hash policy: each player's
// calls carry a player-id metadata entry and stick to one server. One server stops; only its players move.
int players = 1000;
if (args is ["--players", string count] && int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) && parsed > 0)
{
    players = parsed;
}
else if (args.Length > 0)
{
    Console.Error.WriteLine("Usage: GrpcGameLobby [--players N] (N a positive whole number; 1000 by default).");
    return 2;
}

LobbyReport report = await LobbyDemo.RunAsync(players, Console.Out, CancellationToken.None);
return report.Failed == 0 && report.Moved == report.OnStoppedServer && report.MovedFromElsewhere == 0 ? 0 : 1;
