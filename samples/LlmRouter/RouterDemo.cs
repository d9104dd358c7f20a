using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Loadwise;
using Loadwise.Http;
using Microsoft.Extensions.DependencyInjection;

namespace LlmRouter;

/// <summary>How long the demo runs and how much of each provider's limit the router may use.</summary>
/// <param name="WindowSeconds">The providers' limit window ("per minute" is 60).</param>
/// <param name="PhaseSeconds">How long each phase sends.</param>
/// <param name="Headroom">The share of each provider's limits the router's quotas allow (below 1 absorbs the estimate's error).</param>
internal sealed record DemoSettings(double WindowSeconds = 60, double PhaseSeconds = 30, double Headroom = 0.9);

/// <summary>One provider's part of a phase.</summary>
internal sealed record ProviderReport(string Name, int RequestLimit, int TokenLimit, long Requests, long Tokens, long RateLimited, double Share);

/// <summary>What one phase sent and what happened to it.</summary>
internal sealed record PhaseReport(string Name, double RequestsPerWindow, IReadOnlyList<ProviderReport> Providers, int Sent, int Served, int RefusedLocally, int OtherFailures)
{
    public long RateLimited => Providers.Sum(p => p.RateLimited);
}

/// <summary>
/// Three stand-in providers with their own request and token limits, and a load-balanced HttpClient in front of them:
/// MostAvailable over per-provider quotas (cost = estimated tokens, corrected from the streamed usage), fallback to
/// another provider on a 429, and local refusal when no provider has room.
/// </summary>
internal static class RouterDemo
{
    private const int MaxTokens = 200;

    public static async Task<IReadOnlyList<PhaseReport>> RunAsync(DemoSettings settings, TextWriter output, CancellationToken cancellationToken)
    {
        TimeSpan window = TimeSpan.FromSeconds(settings.WindowSeconds);
        StandInProvider[] providers = await Task.WhenAll(
            StandInProvider.StartAsync("alpha", 60, 24_000, window),
            StandInProvider.StartAsync("beta", 120, 48_000, window),
            StandInProvider.StartAsync("gamma", 90, 36_000, window));
        try
        {
            // Each window limit comes with the same limit over a fifth of the window: the router then spreads what it
            // sends evenly, which keeps the two-bucket window estimate accurate. Without it, a burst at the end of one
            // window is under-counted early in the next and the provider, which counts exactly, answers 429.
            var quotas = new QuotaTracker<string>();
            TimeSpan slice = window / 5;
            foreach (StandInProvider provider in providers)
            {
                quotas.Configure(new HttpEndpoint(provider.Address).Id,
                [
                    new QuotaLimit(QuotaLimit.RequestsName, provider.RequestsPerWindow * settings.Headroom, window, QuotaUnit.Requests),
                    new QuotaLimit(QuotaLimit.TokensName, provider.TokensPerWindow * settings.Headroom, window, QuotaUnit.Cost),
                    new QuotaLimit("requests-per-slice", provider.RequestsPerWindow * settings.Headroom / 5, slice, QuotaUnit.Requests),
                    new QuotaLimit("tokens-per-slice", provider.TokensPerWindow * settings.Headroom / 5, slice, QuotaUnit.Cost),
                ]);
            }

            var services = new ServiceCollection();
            services.AddHttpClient("llm", c => c.BaseAddress = new Uri("http://llm"))
                .AddLoadwise(o =>
                {
                    o.Endpoints = [.. providers.Select(p => p.Address.ToString())];
                    o.Balancer.Strategy.Name = "MostAvailable";
                    o.MaxAttempts = 3; // a 429 goes to another provider
                })
                .ConfigureLoadwiseBalancer((builder, _) => builder.WithQuotas(quotas));
            await using ServiceProvider container = services.BuildServiceProvider();
            HttpClient client = container.GetRequiredService<IHttpClientFactory>().CreateClient("llm");

            int oneProvider = providers[0].RequestsPerWindow;
            int fleet = providers.Sum(p => p.RequestsPerWindow);
            output.WriteLine($"Providers: {string.Join(", ", providers.Select(p => $"{p.Name} {p.RequestsPerWindow} requests and {p.TokensPerWindow} tokens per {settings.WindowSeconds:0.#} s"))}; the router uses {settings.Headroom:P0} of each.");
            var reports = new List<PhaseReport>
            {
                await RunPhaseAsync($"3x {providers[0].Name}'s limit", 3.0 * oneProvider, settings, client, providers, output, cancellationToken),
                await RunPhaseAsync("1.5x the whole fleet", 1.5 * fleet, settings, client, providers, output, cancellationToken),
            };
            return reports;
        }
        finally
        {
            foreach (StandInProvider provider in providers)
            {
                await provider.DisposeAsync();
            }
        }
    }

    private static async Task<PhaseReport> RunPhaseAsync(string name, double perWindow, DemoSettings settings, HttpClient client, StandInProvider[] providers, TextWriter output, CancellationToken cancellationToken)
    {
        (long Served, long Tokens, long Rejected)[] before = [.. providers.Select(p => (p.Served, p.Tokens, p.Rejected))];
        double perSecond = perWindow / settings.WindowSeconds;
        int total = (int)(perSecond * settings.PhaseSeconds);
        int served = 0;
        int refused = 0;
        int failed = 0;
        var sends = new List<Task>(total);
        long start = Stopwatch.GetTimestamp();
        var random = new Random(7);
        for (int i = 0; i < total; i++)
        {
            TimeSpan due = TimeSpan.FromSeconds(i / perSecond) - Stopwatch.GetElapsedTime(start);
            if (due > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(due, cancellationToken);
            }

            int promptTokens = random.Next(100, 300);
            sends.Add(SendAsync(client, promptTokens, cancellationToken).ContinueWith(
                t =>
                {
                    switch (t.Status == TaskStatus.RanToCompletion ? t.Result : Result.Failed)
                    {
                        case Result.Served: Interlocked.Increment(ref served); break;
                        case Result.Refused: Interlocked.Increment(ref refused); break;
                        default: Interlocked.Increment(ref failed); break;
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default));
        }

        await Task.WhenAll(sends);
        long servedTotal = providers.Select((p, i) => p.Served - before[i].Served).Sum();
        ProviderReport[] rows =
        [
            .. providers.Select((p, i) => new ProviderReport(
                p.Name, p.RequestsPerWindow, p.TokensPerWindow, p.Served - before[i].Served, p.Tokens - before[i].Tokens, p.Rejected - before[i].Rejected,
                servedTotal == 0 ? 0 : (double)(p.Served - before[i].Served) / servedTotal)),
        ];
        var report = new PhaseReport(name, perWindow, rows, total, served, refused, failed);
        Print(report, settings, output);
        return report;
    }

    private enum Result
    {
        Served,
        Refused,
        Failed,
    }

    private static async Task<Result> SendAsync(HttpClient client, int promptTokens, CancellationToken cancellationToken)
    {
        string body = string.Create(CultureInfo.InvariantCulture, $"{{\"prompt_tokens\":{promptTokens},\"max_tokens\":{MaxTokens}}}");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.WithLoadwiseCost(promptTokens + MaxTokens); // the most it can cost; corrected below from the usage event
        try
        {
            using HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return Result.Failed;
            }

            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.StartsWith("data: {\"usage\"", StringComparison.Ordinal)
                    && request.Options.TryGetValue(LoadwiseRequest.Charge, out QuotaCharge charge))
                {
                    using JsonDocument usage = JsonDocument.Parse(line.AsMemory(6));
                    charge.Correct(usage.RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt32());
                }
            }

            return Result.Served;
        }
        catch (HttpRequestException e) when (e.InnerException is NoNodeAvailableException)
        {
            return Result.Refused; // every provider is at its limit: refused here, never sent
        }
        catch (HttpRequestException)
        {
            return Result.Failed;
        }
    }

    private static void Print(PhaseReport report, DemoSettings settings, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"== {report.Name}: {report.RequestsPerWindow:0} requests per {settings.WindowSeconds:0.#} s for {settings.PhaseSeconds:0.#} s ==");
        output.WriteLine($"{"provider",-9} {"limit req/tok",-15} {"requests",9} {"tokens",9} {"429s",6} {"share",7}");
        foreach (ProviderReport row in report.Providers)
        {
            output.WriteLine($"{row.Name,-9} {$"{row.RequestLimit}/{row.TokenLimit}",-15} {row.Requests,9} {row.Tokens,9} {row.RateLimited,6} {row.Share,7:P1}");
        }

        output.WriteLine($"sent {report.Sent}, served {report.Served}, refused locally (no provider had room) {report.RefusedLocally}, other failures {report.OtherFailures}, 429s from providers {report.RateLimited}");
    }
}
