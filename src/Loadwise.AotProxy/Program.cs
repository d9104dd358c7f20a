using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Hosting;

namespace Loadwise.AotProxy;

/// <summary>The entry point: <c>loadwise-proxy --help</c> lists the commands.</summary>
internal static class Program
{
    public static Task<int> Main(string[] args) => ProxyProgram.RunAsync(args, Console.Out, Console.Error);
}

/// <summary>
/// The command line. Exit codes: 0 success; 1 <c>--check-config</c> found problems; 2 bad command line or invalid
/// configuration at start (one line per problem, no stack trace); 3 the proxy could not start (e.g. a port in use).
/// </summary>
internal static class ProxyProgram
{
    public const int ExitOk = 0;
    public const int ExitCheckFailed = 1;
    public const int ExitInvalid = 2;
    public const int ExitStartFailed = 3;

    public const string Usage = """
        usage:
          loadwise-proxy --config <file> [--strategy NAME] [--Key:Path=value ...]   run the proxy
          loadwise-proxy --demo [--strategy NAME] [--Key:Path=value ...]            three demo backends (127.0.0.1:8081-8083) + proxy on http://127.0.0.1:3000
          loadwise-proxy --check-config <file>                                     validate, print every problem, exit 0 or 1
          loadwise-proxy --help | --version

        Configuration: the JSON file, then environment variables LOADWISE_<Key>__<Path> (e.g. LOADWISE_Strategy__Name=LeastLoad),
        then --Key:Path=value arguments. Strategies: RoundRobin, Random, WeightedRandom, WeightedRoundRobin, LeastLoad,
        PowerOfTwoChoices, ConsistentHash, MostAvailable, WeightedLeastRequest, Maglev.
        Reference: docs/proxy/configuration.md.
        Exit codes: 0 ok, 1 check-config found problems, 2 invalid command line or configuration, 3 could not start.
        Signals: SIGTERM/SIGINT drain and stop; SIGHUP reloads the configuration (an invalid one changes nothing).
        """;

    /// <summary>The demo: three backends on 8081-8083 and the proxy on 3000.</summary>
    public static readonly IReadOnlyDictionary<string, string?> DemoDefaults = new Dictionary<string, string?>
    {
        ["Listen:0"] = "http://127.0.0.1:3000",
        ["Backends:0:Id"] = "backend-1",
        ["Backends:0:Url"] = "http://127.0.0.1:8081",
        ["Backends:1:Id"] = "backend-2",
        ["Backends:1:Url"] = "http://127.0.0.1:8082",
        ["Backends:2:Id"] = "backend-3",
        ["Backends:2:Url"] = "http://127.0.0.1:8083",
        ["Strategy:Name"] = "RoundRobin",
    };

    /// <summary>Parses the command line and runs it; returns the exit code. Tests call it in-process.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="stdout">Where normal output goes.</param>
    /// <param name="stderr">Where problems go.</param>
    /// <param name="environment">The environment to read LOADWISE_ variables from (null: the process's).</param>
    /// <param name="started">Called with the running proxy (tests stop it through this).</param>
    public static async Task<int> RunAsync(
        string[] args, TextWriter stdout, TextWriter stderr, IDictionary<string, string>? environment = null, Func<ProxyServer, Task>? started = null)
    {
        string? config = null;
        string? check = null;
        bool demo = false;
        var overrides = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            switch (arg)
            {
                case "--help" or "-h" or "-?":
                    await stdout.WriteLineAsync(Usage).ConfigureAwait(false);
                    return ExitOk;
                case "--version":
                    await stdout.WriteLineAsync($"loadwise-proxy {ProxyVersion.Current}").ConfigureAwait(false);
                    return ExitOk;
                case "--demo":
                    demo = true;
                    break;
                case "--config" or "--check-config" or "--strategy":
                    if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    {
                        await stderr.WriteLineAsync($"{arg}: got '(missing)', expected a value after {arg}").ConfigureAwait(false);
                        return ExitInvalid;
                    }

                    string value = args[++i];
                    if (arg == "--config")
                    {
                        config = value;
                    }
                    else if (arg == "--check-config")
                    {
                        check = value;
                    }
                    else
                    {
                        overrides.Add($"--Strategy:Name={value}");
                    }

                    break;
                default:
                    if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
                    {
                        await stderr.WriteLineAsync($"argument {i}: got '{arg}', expected a command or an override such as --Strategy:Name=LeastLoad").ConfigureAwait(false);
                        await stderr.WriteLineAsync(Usage).ConfigureAwait(false);
                        return ExitInvalid;
                    }

                    overrides.Add(arg);
                    break;
            }
        }

        int modes = (config is null ? 0 : 1) + (check is null ? 0 : 1) + (demo ? 1 : 0);
        if (modes != 1)
        {
            await stderr.WriteLineAsync(modes == 0 ? "expected one of --config <file>, --demo or --check-config <file>" : "expected only one of --config, --demo and --check-config").ConfigureAwait(false);
            await stderr.WriteLineAsync(Usage).ConfigureAwait(false);
            return ExitInvalid;
        }

        var sources = new ConfigSources(config ?? check, demo ? DemoDefaults : null, overrides);
        List<string> problems = LoadAndValidate(sources, environment, out ProxyOptions options);
        if (check is not null)
        {
            if (problems.Count == 0)
            {
                await stdout.WriteLineAsync($"{check}: ok ({options.Backends.Count} backends, strategy {options.Strategy.Name})").ConfigureAwait(false);
                return ExitOk;
            }

            await WriteProblemsAsync(stdout, problems).ConfigureAwait(false);
            return ExitCheckFailed;
        }

        if (problems.Count > 0)
        {
            await WriteProblemsAsync(stderr, problems).ConfigureAwait(false);
            return ExitInvalid;
        }

        return await RunProxyAsync(options, demo, stderr, started, () =>
        {
            // A reload reads every source again: the file, the environment, the command line's overrides.
            List<string> reloadProblems = LoadAndValidate(sources, environment, out ProxyOptions reloaded);
            return (reloaded, reloadProblems);
        }, config).ConfigureAwait(false);
    }

    /// <summary>Loads, binds and validates: the problems, one line each, or none.</summary>
    public static List<string> LoadAndValidate(ConfigSources sources, IDictionary<string, string>? environment, out ProxyOptions options)
    {
        var problems = new List<string>();
        options = ProxyConfigLoader.Load(sources, problems, environment);
        if (problems.Count == 0 || !problems.TrueForAll(static p => p.StartsWith("--config", StringComparison.Ordinal) || p.StartsWith("command line", StringComparison.Ordinal)))
        {
            problems.AddRange(ProxyOptionsValidator.Validate(options));
        }

        return problems;
    }

    private static async Task WriteProblemsAsync(TextWriter writer, List<string> problems)
    {
        foreach (string problem in problems)
        {
            await writer.WriteLineAsync($"config error: {problem}").ConfigureAwait(false);
        }
    }

    private static async Task<int> RunProxyAsync(
        ProxyOptions options, bool demo, TextWriter stderr, Func<ProxyServer, Task>? started, Func<(ProxyOptions, List<string>)> reloadSource, string? configFile)
    {
        // Before any socket exists (the demo backends included): the runtime reads these switches once.
        RuntimeTuning.Apply(options.Performance);
        var demoBackends = new List<DemoBackend>();
        try
        {
            if (demo)
            {
                foreach (BackendOptions backend in options.Backends)
                {
                    demoBackends.Add(await DemoBackend.StartAsync(backend.Id!, backend.Url!).ConfigureAwait(false));
                }
            }

            ProxyServer server = ProxyServer.Create(options, handleSignals: started is null);
            server.DemoBackendUrls = demoBackends.ConvertAll(static b => $"{b.Name} {b.Url}");
            server.ReloadSource = reloadSource;
            server.ConfigFile = configFile;
            await using (server.ConfigureAwait(false))
            {
                if (started is null)
                {
                    await server.RunAsync().ConfigureAwait(false);
                }
                else
                {
                    await server.StartAsync().ConfigureAwait(false);
                    await started(server).ConfigureAwait(false);
                    await server.StopAsync().ConfigureAwait(false);
                }
            }

            return ExitOk;
        }
        catch (Tls.CertificateLoadException e)
        {
            await stderr.WriteLineAsync($"cannot start: {e.Message}").ConfigureAwait(false);
            return ExitStartFailed;
        }
        catch (IOException e)
        {
            // Kestrel reports a port in use as an IOException; say so in one line rather than with a stack trace.
            await stderr.WriteLineAsync($"cannot start: {e.Message}").ConfigureAwait(false);
            return ExitStartFailed;
        }
        finally
        {
            foreach (DemoBackend backend in demoBackends)
            {
                await backend.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
