using System.Globalization;

namespace Loadwise.Soak;

/// <summary>The command line of the soak.</summary>
internal sealed class SoakOptions
{
    public const string Usage = """
        usage: Loadwise.Soak [options]
          --duration 10m        how long the load runs (s, m, ms; plain numbers are seconds)
          --clients 32          concurrent client loops, one keep-alive connection each
          --raw-clients 4       how many of them are strict raw-socket clients (the rest use HttpClient)
          --post-percent 30     POST share (bodies of 0-64 KiB); the rest are GET
          --head-percent 5      HEAD share, taken from the GETs (the raw backend's body-after-HEAD needs HEADs)
          --sample-every 60s    how often the proxy's descriptors, RSS and requests/s are read
          --restart-every 30s   how often the restarting backend is killed (SIGKILL) and started again
          --restart-down 1s     how long it stays dead
          --idle-after 65s      after the load, wait this long (past the proxy's 60 s idle timeout) and read the
                                descriptors again: they should be back at the level before the load (0: skip)
          --timeout 40s         per request, after the proxy's own 30 s response-headers timeout
          --proxy PATH          the proxy binary (default artifacts/aot/loadwise-proxy; a .dll runs with dotnet)
          --report PATH         the markdown report (default bench/results/soak-proxy.md)
          --seed N              seed of the random choices (default: random)
          --send-late-strays    also send the raw backend's delayed second response when the proxy has already sent
                                the next request on that connection (no HTTP/1.1 client can tell it from the answer:
                                shows the limit of the protocol, not of the proxy; withheld and counted by default)
        """;

    public TimeSpan Duration { get; private set; } = TimeSpan.FromMinutes(10);

    public int Clients { get; private set; } = 32;

    public int RawClients { get; private set; } = 4;

    public int PostPercent { get; private set; } = 30;

    public int HeadPercent { get; private set; } = 5;

    public TimeSpan SampleEvery { get; private set; } = TimeSpan.FromSeconds(60);

    public TimeSpan RestartEvery { get; private set; } = TimeSpan.FromSeconds(30);

    public TimeSpan RestartDown { get; private set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RequestTimeout { get; private set; } = TimeSpan.FromSeconds(40);

    public TimeSpan IdleAfter { get; private set; } = TimeSpan.FromSeconds(65);

    public string? Proxy { get; private set; }

    public string? Report { get; private set; }

    /// <summary>Gets the arguments as given, for the report's rerun line.</summary>
    public IReadOnlyList<string> Arguments { get; private set; } = [];

    public bool SendLateStrays { get; private set; }

    public int Seed { get; private set; } = Random.Shared.Next(1, 1_000_000);

    /// <summary>Parses the arguments; a problem is one line naming the option, the value and what is expected.</summary>
    public static SoakOptions Parse(string[] args, out string? problem)
    {
        var options = new SoakOptions { Arguments = args };
        problem = null;
        for (int i = 0; i < args.Length && problem is null; i += 2)
        {
            string name = args[i];
            if (name == "--send-late-strays")
            {
                options.SendLateStrays = true;
                i--;
                continue;
            }

            string? value = i + 1 < args.Length ? args[i + 1] : null;
            if (value is null)
            {
                problem = $"{name}: got no value, expected one after it";
                break;
            }

            problem = name switch
            {
                "--duration" => Time(name, value, t => options.Duration = t),
                "--sample-every" => Time(name, value, t => options.SampleEvery = t),
                "--restart-every" => Time(name, value, t => options.RestartEvery = t),
                "--restart-down" => Time(name, value, t => options.RestartDown = t),
                "--timeout" => Time(name, value, t => options.RequestTimeout = t),
                "--idle-after" => value == "0" ? Set(() => options.IdleAfter = TimeSpan.Zero) : Time(name, value, t => options.IdleAfter = t),
                "--clients" => Int(name, value, 1, 4096, n => options.Clients = n),
                "--raw-clients" => Int(name, value, 0, 4096, n => options.RawClients = n),
                "--post-percent" => Int(name, value, 0, 100, n => options.PostPercent = n),
                "--head-percent" => Int(name, value, 0, 100, n => options.HeadPercent = n),
                "--seed" => Int(name, value, 1, int.MaxValue / 2000, n => options.Seed = n),
                "--proxy" => Set(() => options.Proxy = value),
                "--report" => Set(() => options.Report = value),
                _ => $"{name}: unknown option, expected one of those below",
            };
        }

        problem ??= options.RawClients > options.Clients ? $"--raw-clients: got {options.RawClients}, expected at most --clients ({options.Clients})"
            : options.PostPercent + options.HeadPercent > 100 ? $"--post-percent + --head-percent: got {options.PostPercent + options.HeadPercent}, expected at most 100"
            : options.RestartDown >= options.RestartEvery ? $"--restart-down: got {options.RestartDown.TotalSeconds} s, expected less than --restart-every ({options.RestartEvery.TotalSeconds} s)"
            : null;
        return options;
    }

    private static string? Set(Action set)
    {
        set();
        return null;
    }

    private static string? Int(string name, string value, int min, int max, Action<int> set)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < min || n > max)
        {
            return $"{name}: got '{value}', expected an integer from {min} to {max}";
        }

        set(n);
        return null;
    }

    private static string? Time(string name, string value, Action<TimeSpan> set)
    {
        (string digits, double scale) = value switch
        {
            _ when value.EndsWith("ms", StringComparison.Ordinal) => (value[..^2], 0.001),
            _ when value.EndsWith('s') => (value[..^1], 1),
            _ when value.EndsWith('m') => (value[..^1], 60),
            _ when value.EndsWith('h') => (value[..^1], 3600),
            _ => (value, 1),
        };
        if (!double.TryParse(digits, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double n) || n <= 0 || n * scale > 86_400)
        {
            return $"{name}: got '{value}', expected a positive duration such as 60s, 10m or 500ms (at most 24h)";
        }

        set(TimeSpan.FromSeconds(n * scale));
        return null;
    }
}
