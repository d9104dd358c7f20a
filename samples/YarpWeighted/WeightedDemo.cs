using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace YarpWeighted;

/// <summary>What the demo saw: requests per catalog destination, and how many players stayed on one lobby server.</summary>
/// <param name="Catalog">Requests answered per catalog destination.</param>
/// <param name="Players">Players who sent requests.</param>
/// <param name="StickyPlayers">Players whose every request reached the same lobby server.</param>
/// <param name="Lobbies">Players per lobby server.</param>
public sealed record DemoReport(IReadOnlyDictionary<string, int> Catalog, int Players, int StickyPlayers, IReadOnlyDictionary<string, int> Lobbies);

/// <summary>
/// Runs the proxy of appsettings.json with stand-in destinations: every destination there is started in this process on
/// a free loopback port (its configured address is replaced by the real one), so the policies, weights, backups and
/// hash key are exactly those of the file.
/// </summary>
public static class WeightedDemo
{
    /// <summary>Starts the stand-ins and the proxy; the proxy listens on <paramref name="proxyUrl"/> (port 0 picks a free one).</summary>
    public static async Task<(WebApplication Proxy, List<WebApplication> Destinations)> StartAsync(string proxyUrl, string[] args)
    {
        IConfiguration file = new ConfigurationBuilder().AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json")).Build();
        var destinations = new List<WebApplication>();
        var addresses = new Dictionary<string, string?>();
        foreach (IConfigurationSection cluster in file.GetSection("ReverseProxy:Clusters").GetChildren())
        {
            foreach (IConfigurationSection destination in cluster.GetSection("Destinations").GetChildren())
            {
                (WebApplication app, string address) = await StartStandInAsync(destination.Key);
                destinations.Add(app);
                addresses[$"ReverseProxy:Clusters:{cluster.Key}:Destinations:{destination.Key}:Address"] = address;
            }
        }

        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(addresses);
        builder.WebHost.UseUrls(proxyUrl);
        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddLoadwisePolicies();
        WebApplication proxy = builder.Build();
        proxy.MapReverseProxy();
        await proxy.StartAsync();
        return (proxy, destinations);
    }

    /// <summary>Sends <paramref name="catalogRequests"/> catalog requests and three requests for each of <paramref name="players"/> players, and reports.</summary>
    public static async Task<DemoReport> RunAsync(int catalogRequests, int players, TextWriter output)
    {
        (WebApplication proxy, List<WebApplication> destinations) = await StartAsync("http://127.0.0.1:0", []);
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(Address(proxy)) };
            var catalog = new SortedDictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < catalogRequests; i++)
            {
                string name = await client.GetStringAsync($"/catalog/items?page={i}");
                catalog[name] = catalog.GetValueOrDefault(name) + 1;
            }

            output.WriteLine("catalog (Loadwise.WeightedRoundRobin, weights big=3 small=1, spare is a backup): " + string.Join(", ", catalog.Select(c => $"{c.Key}={c.Value}")));
            var lobbies = new SortedDictionary<string, int>(StringComparer.Ordinal);
            int sticky = 0;
            for (int player = 0; player < players; player++)
            {
                var seen = new HashSet<string>();
                for (int request = 0; request < 3; request++)
                {
                    using var message = new HttpRequestMessage(HttpMethod.Get, "/lobby/state");
                    message.Headers.Add("X-Player", "player-" + player);
                    using HttpResponseMessage response = await client.SendAsync(message);
                    seen.Add(await response.Content.ReadAsStringAsync());
                }

                sticky += seen.Count == 1 ? 1 : 0;
                lobbies[seen.First()] = lobbies.GetValueOrDefault(seen.First()) + 1;
            }

            output.WriteLine($"lobby (Loadwise.Maglev by X-Player): {sticky} of {players} players stayed on one server; players per server: " + string.Join(", ", lobbies.Select(l => $"{l.Key}={l.Value}")));
            return new DemoReport(catalog, players, sticky, lobbies);
        }
        finally
        {
            await proxy.DisposeAsync();
            foreach (WebApplication destination in destinations)
            {
                await destination.DisposeAsync();
            }
        }
    }

    /// <summary>The address the application listens on.</summary>
    public static string Address(WebApplication app) => app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    private static async Task<(WebApplication App, string Address)> StartStandInAsync(string name)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        WebApplication app = builder.Build();
        app.Run(context => context.Response.WriteAsync(name));
        await app.StartAsync();
        return (app, Address(app));
    }
}
