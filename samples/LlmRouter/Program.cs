using System.Globalization;
using LlmRouter;

// dotnet run --project samples/LlmRouter [-- --window 60 --phase 30]
// Three in-process stand-in providers with their own request and token limits; a Loadwise HttpClient routes
// chat-completion calls across them and never sends a provider more than its limits allow.
double window = 60;
double phase = 30;
for (int i = 0; i + 1 < args.Length; i += 2)
{
    double value = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
    switch (args[i])
    {
        case "--window": window = value; break;
        case "--phase": phase = value; break;
        default:
            Console.Error.WriteLine($"Unknown option {args[i]}; use --window SECONDS and --phase SECONDS.");
            return 2;
    }
}

IReadOnlyList<PhaseReport> reports = await RouterDemo.RunAsync(new DemoSettings(window, phase), Console.Out, CancellationToken.None);
return reports.Any(r => r.RateLimited > 0 || r.OtherFailures > 0) ? 1 : 0;
