namespace Loadwise.AotProxy.Configuration;

/// <summary>The rules of the <c>AccessLog</c> and <c>Telemetry</c> sections, each problem naming its key and the fix.</summary>
/// <example><code>
/// var problems = new List&lt;string&gt;();
/// ObservabilityValidator.Validate(options, problems); // "AccessLog:Format: got 'xml', expected one of common, json"
/// </code></example>
internal static class ObservabilityValidator
{
    /// <summary>Adds one line per problem.</summary>
    public static void Validate(ProxyOptions options, List<string> problems)
    {
        AccessLogOptions log = options.AccessLog;
        if (!AccessLogOptions.Formats.Contains(log.Format, StringComparer.Ordinal))
        {
            problems.Add($"AccessLog:Format: got '{log.Format}', expected one of {string.Join(", ", AccessLogOptions.Formats)}");
        }

        for (int i = 0; i < log.Fields.Count; i++)
        {
            if (!AccessLogOptions.FieldNames.Contains(log.Fields[i], StringComparer.Ordinal))
            {
                problems.Add($"AccessLog:Fields:{i}: got '{log.Fields[i]}', expected one of {string.Join(", ", AccessLogOptions.FieldNames)}");
            }
            else if (log.Fields.IndexOf(log.Fields[i]) < i)
            {
                problems.Add($"AccessLog:Fields:{i}: '{log.Fields[i]}' is listed twice, expected each field at most once (remove the repeat)");
            }
        }

        if (log.QueueCapacity is < 16 or > 1_048_576)
        {
            problems.Add($"AccessLog:QueueCapacity: got {log.QueueCapacity}, expected 16 to 1048576 lines");
        }

        if (log.Enabled && log.Path is { } path && path != "-")
        {
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (folder is null || !Directory.Exists(folder))
            {
                problems.Add($"AccessLog:Path: got '{path}', expected a file in an existing folder (create {folder} first)");
            }
        }

        OtlpOptions otlp = options.Telemetry.Otlp;
        if (otlp.Endpoint is { } endpoint
            && (!Uri.TryCreate(endpoint, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
        {
            problems.Add($"Telemetry:Otlp:Endpoint: got '{endpoint}', expected an http:// or https:// URL of an OTLP collector (e.g. http://127.0.0.1:4318)");
        }

        if (otlp.Endpoint is not null && !OtlpOptions.BuiltIn)
        {
            problems.Add("Telemetry:Otlp:Endpoint: this binary was built without the OTLP exporter (-p:LoadwiseOtlp=false), expected no endpoint or a build with it");
        }

        if (otlp.Protocol is not ("http/protobuf" or "grpc"))
        {
            problems.Add($"Telemetry:Otlp:Protocol: got '{otlp.Protocol}', expected http/protobuf or grpc");
        }

        if (otlp.IntervalMs is < 1_000 or > 3_600_000)
        {
            problems.Add($"Telemetry:Otlp:IntervalMs: got {otlp.IntervalMs}, expected 1000 to 3600000");
        }
    }
}
