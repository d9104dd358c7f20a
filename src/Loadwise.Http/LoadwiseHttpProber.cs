using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Loadwise.Http;

/// <summary>The names of the load-balanced clients, so that the prober knows which balancers to look at.</summary>
/// <example><code>services.Configure&lt;LoadwiseHttpClientNames&gt;(n =&gt; n.Names.Add("catalog"));</code></example>
public sealed class LoadwiseHttpClientNames
{
    /// <summary>Gets the client names.</summary>
    /// <example><code>foreach (string name in names.Names) Console.WriteLine(name);</code></example>
    public ISet<string> Names { get; } = new HashSet<string>(StringComparer.Ordinal);
}

/// <summary>
/// Active health probing, for the load-balanced clients that set <see cref="LoadwiseHttpOptions.ProbePath"/>: an
/// Unhealthy endpoint is sent <c>GET {endpoint}{ProbePath}</c> once per probe interval of its health policy (the claim
/// is made through the tracker, so one probe per interval however many callers), and the answer is reported: 2xx is a
/// success (the endpoint moves to Recovering and gets traffic again), anything else a failure.
/// </summary>
/// <remarks>Healthy endpoints are not probed: their traffic reports for them. The probe uses its own plain client.</remarks>
internal sealed class LoadwiseHttpProber(
    LoadwiseHttpBalancers balancers,
    IOptions<LoadwiseHttpClientNames> names,
    IOptionsMonitor<LoadwiseHttpOptions> options,
    TimeProvider time) : BackgroundService
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        string[] probed = [.. names.Value.Names.Where(n => options.Get(n).ProbePath is { Length: > 0 })];
        if (probed.Length == 0)
        {
            return;
        }

        using var client = new HttpClient { Timeout = ProbeTimeout };
        using var timer = new PeriodicTimer(Tick, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            foreach (string name in probed)
            {
                await ProbeAsync(client, name, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task ProbeAsync(HttpClient client, string name, CancellationToken stoppingToken)
    {
        LoadBalancer<HttpEndpoint> balancer = balancers.GetBalancer(name);
        if (balancer.Health is not { } health)
        {
            return;
        }

        string path = options.Get(name).ProbePath!;
        foreach (HttpEndpoint endpoint in balancer.Nodes)
        {
            if (!health.TryBeginProbe(endpoint.Id))
            {
                continue;
            }

            Outcome outcome;
            try
            {
                using HttpResponseMessage response = await client.GetAsync(new Uri(endpoint.Prefix + path), stoppingToken).ConfigureAwait(false);
                outcome = response.IsSuccessStatusCode ? Outcome.Success : Outcome.Failure;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                outcome = Outcome.Failure;
            }

            health.Report(endpoint.Id, outcome);
        }
    }
}
