using System.Globalization;
using Loadwise.AotProxy.Http;

namespace Loadwise.AotProxy.Configuration;

/// <summary>
/// Checks a bound configuration and lists every problem, one line each, in the form
/// <c>Key:Path: got 'value', expected what-is-allowed</c>.
/// </summary>
internal static class ProxyOptionsValidator
{
    public const int MaxBackends = 4096;

    private const string Missing = "(missing)";

    public static readonly string[] HostHeaderPolicies = ["Backend", "Preserve"];

    public static readonly string[] LogLevels = ["Trace", "Debug", "Information", "Warning", "Error", "Critical", "None"];

    public static List<string> Validate(ProxyOptions options)
    {
        var problems = new List<string>();

        if (options.Listen.Count == 0)
        {
            problems.Add($"Listen: got '{Missing}', expected at least one URL such as http://127.0.0.1:3000");
        }

        for (int i = 0; i < options.Listen.Count; i++)
        {
            CheckListenUrl(problems, $"Listen:{i}", options.Listen[i], https: true);
        }

        ProtocolOptionsValidator.Validate(options, problems);

        ValidateBackends(options.Backends, problems);
        ValidateStrategy(options.Strategy, problems);
        BalancingValidator.Validate(options, problems);

        Range(problems, "Timeouts:ConnectMs", options.Timeouts.ConnectMs, 1, 600_000);
        Range(problems, "Timeouts:ResponseHeadersMs", options.Timeouts.ResponseHeadersMs, 1, 3_600_000);
        Range(problems, "Timeouts:IdleMs", options.Timeouts.IdleMs, 1, 3_600_000);
        Range(problems, "Timeouts:ResponseBodyIdleMs", options.Timeouts.ResponseBodyIdleMs, 0, 86_400_000);

        Range(problems, "Limits:MaxRequestBodyBytes", options.Limits.MaxRequestBodyBytes, 1, long.MaxValue);
        Range(problems, "Limits:MaxRequestHeadersTotalBytes", options.Limits.MaxRequestHeadersTotalBytes, 1024, 1 << 20);
        Range(problems, "Limits:MaxConcurrentConnections", options.Limits.MaxConcurrentConnections, 0, long.MaxValue);
        Range(problems, "Limits:MaxRequestHeaderCount", options.Limits.MaxRequestHeaderCount, 1, 10_000);
        Range(problems, "Limits:RequestHeadersTimeoutMs", options.Limits.RequestHeadersTimeoutMs, 100, 600_000);
        Range(problems, "Limits:MinRequestBodyBytesPerSecond", options.Limits.MinRequestBodyBytesPerSecond, 0, int.MaxValue);
        Range(problems, "Limits:MinRequestBodyGraceMs", options.Limits.MinRequestBodyGraceMs, 2_000, 600_000);
        Range(problems, "Limits:MinResponseBytesPerSecond", options.Limits.MinResponseBytesPerSecond, 0, int.MaxValue);
        Range(problems, "Limits:MinResponseGraceMs", options.Limits.MinResponseGraceMs, 2_000, 600_000);

        for (int i = 0; i < options.Forwarding.TrustedProxies.Count; i++)
        {
            string? network = options.Forwarding.TrustedProxies[i];
            if (!ForwardedHeaders.TryParseNetwork(network, out _))
            {
                problems.Add($"Forwarding:TrustedProxies:{i}: got '{network ?? Missing}', expected an IP address or a CIDR network such as 10.0.0.0/8");
            }
        }

        List<string>? untrusted = options.Forwarding.UntrustedHeaders;
        for (int i = 0; untrusted is not null && i < untrusted.Count; i++)
        {
            if (!HttpSyntax.IsToken(untrusted[i]))
            {
                problems.Add($"Forwarding:UntrustedHeaders:{i}: got '{untrusted[i] ?? Missing}', expected a header name such as X-Real-IP");
            }
        }

        if (Array.FindIndex(HostHeaderPolicies, p => string.Equals(p, options.Forwarding.HostHeader, StringComparison.OrdinalIgnoreCase)) < 0)
        {
            problems.Add($"Forwarding:HostHeader: got '{options.Forwarding.HostHeader ?? Missing}', expected one of {string.Join(", ", HostHeaderPolicies)}");
        }

        string? metricsPath = options.Metrics.Path;
        if (string.IsNullOrEmpty(metricsPath) || metricsPath[0] != '/' || metricsPath.AsSpan().IndexOfAny("?# ") >= 0)
        {
            problems.Add($"Metrics:Path: got '{metricsPath ?? Missing}', expected a path starting with '/' and without '?', '#' or spaces");
        }

        if (options.Metrics.AdminListen is { } moved)
        {
            problems.Add($"Metrics:AdminListen: got '{moved}', expected nothing: the key is now Admin:Listen (it serves the admin API and status page too); rename it");
        }

        ValidateAdmin(options, problems);
        ObservabilityValidator.Validate(options, problems);

        ValidateHealth(options.HealthChecks, problems);
        ValidateRetries(options.Retries, problems);
        Range(problems, "Performance:EventLoopThreads", options.Performance.EventLoopThreads, 0, 1024);
        ValidateRateLimiting(options.RateLimiting, options.State, problems);
        State.StateOptionsRules.Validate(options.State, problems);

        Range(problems, "Drain:TimeoutMs", options.Drain.TimeoutMs, 0, 3_600_000);
        if (Array.FindIndex(LogLevels, l => string.Equals(l, options.Log.Level, StringComparison.OrdinalIgnoreCase)) < 0)
        {
            problems.Add($"Log:Level: got '{options.Log.Level ?? Missing}', expected one of {string.Join(", ", LogLevels)}");
        }

        return problems;
    }

    private static void ValidateAdmin(ProxyOptions options, List<string> problems)
    {
        AdminOptions admin = options.Admin;
        if (admin.Listen is { } listen && CheckListenUrl(problems, "Admin:Listen", listen) is { } adminUri)
        {
            foreach (string url in options.Listen)
            {
                if (adminUri.Port != 0 && Uri.TryCreate(url, UriKind.Absolute, out Uri? listenUri) && listenUri.Port == adminUri.Port)
                {
                    problems.Add($"Admin:Listen: got '{listen}', expected a port other than the proxy's listen port {listenUri.Port}");
                    break;
                }
            }
        }

        if (admin.TokenFile is not null && admin.TokenEnvironmentVariable is not null)
        {
            problems.Add($"Admin:TokenFile: got '{admin.TokenFile}' and Admin:TokenEnvironmentVariable '{admin.TokenEnvironmentVariable}', expected one of the two");
        }

        if ((admin.TokenFile is not null || admin.TokenEnvironmentVariable is not null) && admin.Listen is null)
        {
            problems.Add("Admin:TokenFile: a token is set but Admin:Listen is not, expected Admin:Listen too (the token guards the admin listener)");
        }

        if (admin.TokenFile is { } file && !AdminToken.TryRead(file, null, out _, out string? fileProblem))
        {
            problems.Add($"Admin:TokenFile: got '{file}', expected {fileProblem}");
        }

        if (admin.TokenEnvironmentVariable is { } variable && !AdminToken.TryRead(null, variable, out _, out string? variableProblem))
        {
            problems.Add($"Admin:TokenEnvironmentVariable: got '{variable}', expected {variableProblem}");
        }
    }

    private static void ValidateBackends(List<BackendOptions> backends, List<string> problems)
    {
        if (backends.Count == 0)
        {
            problems.Add($"Backends: got '{Missing}', expected at least one backend with an Id and a Url");
            return;
        }

        if (backends.Count > MaxBackends)
        {
            problems.Add($"Backends: got '{backends.Count} backends', expected at most {MaxBackends}");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < backends.Count; i++)
        {
            BackendOptions backend = backends[i];
            string path = $"Backends:{i}";
            if (string.IsNullOrWhiteSpace(backend.Id) || backend.Id.Length > 128 || backend.Id.AsSpan().ContainsAnyInRange('\0', ' '))
            {
                problems.Add($"{path}:Id: got '{backend.Id ?? Missing}', expected a name of 1 to 128 characters without spaces or control characters");
            }
            else if (!seen.Add(backend.Id))
            {
                problems.Add($"{path}:Id: got '{backend.Id}', expected an id not used by another backend");
            }

            if (!Uri.TryCreate(backend.Url, UriKind.Absolute, out Uri? url)
                || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)
                || !string.IsNullOrEmpty(url.Query) || !string.IsNullOrEmpty(url.Fragment) || !string.IsNullOrEmpty(url.UserInfo))
            {
                problems.Add($"{path}:Url: got '{backend.Url ?? Missing}', expected an absolute http:// or https:// URL without query, fragment or user info");
            }

            Range(problems, $"{path}:Weight", backend.Weight, 0, 1_000_000);
            Range(problems, $"{path}:Capacity", backend.Capacity, 0, int.MaxValue);
        }
    }

    private static void ValidateStrategy(StrategyOptions strategy, List<string> problems)
    {
        if (!StrategyNames.IsKnown(strategy.Name))
        {
            problems.Add($"Strategy:Name: got '{strategy.Name ?? Missing}', expected one of {string.Join(", ", StrategyNames.All)}");
        }

        Range(problems, "Strategy:VirtualNodes", strategy.VirtualNodes, 1, 65_536);
        if (!(strategy.Epsilon >= 0 && strategy.Epsilon <= 1))
        {
            problems.Add($"Strategy:Epsilon: got '{Format(strategy.Epsilon)}', expected a number from 0 to 1");
        }

        if (!StrategyNames.IsKeyed(strategy.Name))
        {
            return;
        }

        if (Array.FindIndex(StrategyNames.Fallbacks, n => string.Equals(n, strategy.Fallback, StringComparison.OrdinalIgnoreCase)) < 0)
        {
            problems.Add($"Strategy:Fallback: got '{strategy.Fallback ?? Missing}', expected one of {string.Join(", ", StrategyNames.Fallbacks)}");
        }

        if (!HashKeyKinds.TryParse(strategy.HashKey.Source, out HashKeyKind kind))
        {
            problems.Add($"Strategy:HashKey:Source: got '{strategy.HashKey.Source ?? Missing}', expected one of {string.Join(", ", HashKeyKinds.Names)}");
        }
        else if ((kind is HashKeyKind.Header or HashKeyKind.Cookie or HashKeyKind.Query) && !IsToken(strategy.HashKey.Name))
        {
            problems.Add($"Strategy:HashKey:Name: got '{strategy.HashKey.Name ?? Missing}', expected the {kind.ToString().ToLowerInvariant()} name to hash (letters, digits and -_.)");
        }
    }

    private static void ValidateHealth(HealthCheckOptions health, List<string> problems)
    {
        string? path = health.Path;
        if (string.IsNullOrEmpty(path) || path[0] != '/' || path.AsSpan().IndexOfAny("# ") >= 0 || path.AsSpan().ContainsAnyInRange('\0', '\u001f'))
        {
            problems.Add($"HealthChecks:Path: got '{path ?? Missing}', expected a path starting with '/' (a query is allowed) without '#', spaces or control characters");
        }

        int interval = health.IntervalMs;
        Range(problems, "HealthChecks:IntervalMs", interval, 100, 3_600_000);
        long intervalForChecks = interval is >= 100 and <= 3_600_000 ? interval : 3_600_000;
        if (health.TimeoutMs < 1 || health.TimeoutMs > intervalForChecks)
        {
            problems.Add($"HealthChecks:TimeoutMs: got '{health.TimeoutMs.ToString(CultureInfo.InvariantCulture)}', expected an integer from 1 to HealthChecks:IntervalMs ({intervalForChecks.ToString(CultureInfo.InvariantCulture)})");
        }

        if (health.JitterMs < 0 || health.JitterMs > intervalForChecks / 2)
        {
            problems.Add($"HealthChecks:JitterMs: got '{health.JitterMs.ToString(CultureInfo.InvariantCulture)}', expected an integer from 0 to half of HealthChecks:IntervalMs ({(intervalForChecks / 2).ToString(CultureInfo.InvariantCulture)})");
        }

        Range(problems, "HealthChecks:UnhealthyThreshold", health.UnhealthyThreshold, 1, 100);
        Range(problems, "HealthChecks:HealthyThreshold", health.HealthyThreshold, 1, 100);
        Range(problems, "HealthChecks:PanicThresholdPercent", health.PanicThresholdPercent, 0, 100);

        PassiveHealthOptions passive = health.Passive;
        if (!Health.StatusCodeSet.TryParse(passive.FailureStatusCodes, out _))
        {
            problems.Add($"HealthChecks:Passive:FailureStatusCodes: got '{passive.FailureStatusCodes ?? Missing}', expected status codes from 100 to 599 and ranges, comma-separated, such as 500-599 or 500,502-504");
        }

        Range(problems, "HealthChecks:Passive:MaxRetryAfterMs", passive.MaxRetryAfterMs, 1, 86_400_000);
        Range(problems, "HealthChecks:Passive:DefaultRetryAfterMs", passive.DefaultRetryAfterMs, 0, 86_400_000);
    }

    private static void ValidateRetries(RetryOptions retries, List<string> problems)
    {
        Range(problems, "Retries:Count", retries.Count, 0, 10);
        Range(problems, "Retries:BudgetPercent", retries.BudgetPercent, 0, 100);
        Range(problems, "Retries:BudgetWindowMs", retries.BudgetWindowMs, 1_000, 600_000);
        Range(problems, "Retries:BudgetMinRetries", retries.BudgetMinRetries, 0, 1_000_000);
        Range(problems, "Retries:MaxBufferedBodyBytes", retries.MaxBufferedBodyBytes, 0, 16 * 1024 * 1024);
    }

    private static void ValidateRateLimiting(RateLimitingOptions rateLimiting, State.StateOptions state, List<string> problems)
    {
        Range(problems, "RateLimiting:TokensPerSecond", rateLimiting.TokensPerSecond, 1, 1_000_000);
        Range(problems, "RateLimiting:Burst", rateLimiting.Burst, 1, 1_000_000);
        Range(problems, "RateLimiting:IPv6PrefixLength", rateLimiting.IPv6PrefixLength, 32, 128);
        Range(problems, "RateLimiting:SyncMs", rateLimiting.SyncMs, 10, 250);
        if (rateLimiting.Shared && state.Redis is null)
        {
            problems.Add("RateLimiting:Shared: true needs State:Redis, expected State:Redis set (such as 127.0.0.1:6379) or RateLimiting:Shared false");
        }
    }

    private static Uri? CheckListenUrl(List<string> problems, string path, string? text, bool https = false)
    {
        if (Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) && (uri.Scheme == Uri.UriSchemeHttp || (https && uri.Scheme == Uri.UriSchemeHttps))
            && uri.AbsolutePath == "/" && !text.Contains("://*", StringComparison.Ordinal))
        {
            return uri;
        }

        problems.Add(https
            ? $"{path}: got '{text ?? Missing}', expected an http:// or https:// URL with a host and port such as http://0.0.0.0:3000 (no path; an https:// one needs its certificates under Tls:Listeners)"
            : $"{path}: got '{text ?? Missing}', expected an http:// URL with a host and port such as http://0.0.0.0:3000 (no path)");
        return null;
    }

    private static bool IsToken(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 256 && !name.AsSpan().ContainsAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");

    /// <summary>Adds a problem when <paramref name="value"/> is outside <paramref name="min"/>..<paramref name="max"/>.</summary>
    internal static void Range(List<string> problems, string path, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            string allowed = max == long.MaxValue || max == int.MaxValue ? $"an integer >= {min}" : $"an integer from {min} to {max}";
            problems.Add($"{path}: got '{value.ToString(CultureInfo.InvariantCulture)}', expected {allowed}");
        }
    }

    private static string Format(double value) => value.ToString(CultureInfo.InvariantCulture);
}
