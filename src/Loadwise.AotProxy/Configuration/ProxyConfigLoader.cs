using System.Text.Json;

namespace Loadwise.AotProxy.Configuration;

/// <summary>Where the configuration comes from: a JSON file or the demo defaults, then env vars, then overrides.</summary>
internal sealed record ConfigSources(string? JsonFile, IReadOnlyDictionary<string, string?>? Defaults, IReadOnlyList<string> CommandLineOverrides);

/// <summary>Builds the ASP.NET Core configuration stack and binds it (source-generated binder) into <see cref="ProxyOptions"/>.</summary>
internal static class ProxyConfigLoader
{
    /// <summary>Environment variables with this prefix override the file: <c>LOADWISE_Strategy__Name=LeastLoad</c>.</summary>
    public const string EnvironmentPrefix = "LOADWISE_";

    /// <summary>
    /// Loads and binds the configuration. Problems that stop binding (a missing file, bad JSON, a value of the wrong
    /// type) are returned as lines in <paramref name="problems"/>; the other rules are checked by
    /// <see cref="ProxyOptionsValidator"/>.
    /// </summary>
    public static ProxyOptions Load(ConfigSources sources, List<string> problems, IDictionary<string, string>? environment = null)
    {
        var configuration = new ConfigurationManager();
        if (sources.Defaults is not null)
        {
            configuration.AddInMemoryCollection(sources.Defaults);
        }

        if (sources.JsonFile is not null)
        {
            string fullPath = Path.GetFullPath(sources.JsonFile);
            if (!File.Exists(fullPath))
            {
                problems.Add($"--config: got '{sources.JsonFile}', expected an existing JSON file");
                return new ProxyOptions();
            }

            try
            {
                configuration.AddJsonFile(fullPath, optional: false, reloadOnChange: false);
            }
            catch (InvalidDataException e)
            {
                problems.Add($"--config: got '{sources.JsonFile}', expected valid JSON ({DescribeJsonError(fullPath, e)})");
                return new ProxyOptions();
            }
        }

        if (environment is null)
        {
            configuration.AddEnvironmentVariables(EnvironmentPrefix);
        }
        else
        {
            // Tests pass their own environment instead of mutating the process's.
            var prefixed = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            foreach (KeyValuePair<string, string> pair in environment)
            {
                if (pair.Key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
                {
                    prefixed[pair.Key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal)] = pair.Value;
                }
            }

            configuration.AddInMemoryCollection(prefixed);
        }

        try
        {
            configuration.AddCommandLine([.. sources.CommandLineOverrides]);
        }
        catch (FormatException e)
        {
            problems.Add($"command line: got '{string.Join(' ', sources.CommandLineOverrides)}', expected overrides as --Key:Path=value ({e.Message})");
            return new ProxyOptions();
        }

        return Bind(configuration, problems);
    }

    /// <summary>
    /// Binds, reporting every value the binder cannot convert: each failure names its key, which is then removed and
    /// binding retried, so that one run lists all of them instead of only the first.
    /// </summary>
    private static ProxyOptions Bind(IConfiguration configuration, List<string> problems)
    {
        for (int attempt = 0; attempt < 64; attempt++)
        {
            var options = new ProxyOptions();
            try
            {
                configuration.Bind(options);
                return options;
            }
            catch (InvalidOperationException e) when (TryParseConversionFailure(e.Message, out string path, out string type))
            {
                problems.Add($"{path}: got '{configuration[path]}', expected {DescribeType(type)}");
                configuration[path] = null;
            }
            catch (InvalidDataException e)
            {
                problems.Add($"--config: expected valid JSON ({Flatten(e)})");
                return new ProxyOptions();
            }
        }

        return new ProxyOptions();
    }

    private static string DescribeType(string clrType) => clrType switch
    {
        "System.Int32" or "System.Int64" => "an integer",
        "System.UInt64" => "a non-negative integer",
        "System.Double" => "a number",
        "System.Boolean" => "true or false",
        _ => $"a value of type {clrType}",
    };

    private static string Flatten(Exception e) =>
        e.InnerException is null ? e.Message : $"{e.Message} {e.InnerException.Message}";

    /// <summary>
    /// Says where the JSON breaks. The native binary strips exception message resources (the provider's message reads
    /// "Error_JSONParseError"), so the file is parsed again with the provider's options and the position is taken
    /// from <see cref="JsonException"/>'s properties, which survive trimming.
    /// </summary>
    internal static string DescribeJsonError(string fullPath, Exception fallback)
    {
        try
        {
            using var document = JsonDocument.Parse(
                File.ReadAllBytes(fullPath),
                new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? Flatten(fallback)
                : $"the top level is a JSON {document.RootElement.ValueKind.ToString().ToLowerInvariant()}, expected an object {{ ... }}";
        }
        catch (JsonException e)
        {
            return $"syntax error at line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}; fix the JSON there";
        }
        catch (IOException e)
        {
            return $"could not read the file: {e.GetType().Name}";
        }
    }

    /// <summary>
    /// Reads the key and type from the binder's "Failed to convert configuration value at 'Key:Path' to type 'T'."
    /// (parsed by hand: the regex engine would add about a megabyte to the native binary).
    /// </summary>
    internal static bool TryParseConversionFailure(string message, out string path, out string type)
    {
        path = type = string.Empty;
        int at = message.IndexOf(" at '", StringComparison.Ordinal);
        int toType = message.IndexOf("' to type '", StringComparison.Ordinal);
        if (!message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal) || at < 0 || toType < at)
        {
            return false;
        }

        int typeStart = toType + "' to type '".Length;
        int typeEnd = message.IndexOf('\'', typeStart);
        if (typeEnd < 0)
        {
            return false;
        }

        path = message[(at + " at '".Length)..toType];
        type = message[typeStart..typeEnd];
        return path.Length > 0;
    }
}
