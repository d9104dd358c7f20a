using Microsoft.Extensions.Hosting;
using YarpWeighted;

// dotnet run --project samples/YarpWeighted                 serve on http://127.0.0.1:5100 until Ctrl+C
// dotnet run --project samples/YarpWeighted -- --self-check  send some traffic, print what happened, exit 0 if it looks right
// YARP routes /catalog/* with Loadwise.WeightedRoundRobin (weights 3:1 and a backup) and /lobby/* with Loadwise.Maglev
// keyed by the X-Player header, all from appsettings.json; the destinations are stand-ins started in this process.
if (args is ["--self-check", ..])
{
    DemoReport report = await WeightedDemo.RunAsync(catalogRequests: 40, players: 30, Console.Out);
    bool ok = report.Catalog.GetValueOrDefault("big") == 30 && report.Catalog.GetValueOrDefault("small") == 10
        && !report.Catalog.ContainsKey("spare") && report.StickyPlayers == report.Players && report.Lobbies.Count == 3;
    Console.WriteLine(ok ? "SELF-CHECK OK" : "SELF-CHECK FAILED");
    return ok ? 0 : 1;
}

(var proxy, var destinations) = await WeightedDemo.StartAsync("http://127.0.0.1:5100", args);
Console.WriteLine($"Proxy on {WeightedDemo.Address(proxy)}: try  curl {WeightedDemo.Address(proxy)}/catalog/x  and  curl -H 'X-Player: ada' {WeightedDemo.Address(proxy)}/lobby/x");
await proxy.WaitForShutdownAsync();
foreach (var destination in destinations)
{
    await destination.DisposeAsync();
}

return 0;
