using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.UnitTests.Configuration;

/// <summary>The balancing keys (PeakEwma, bounded load, slow start, priorities and backups): each bad value gives one line naming its key.</summary>
public sealed class BalancingValidationTests
{
    /// <summary>Three backends, RoundRobin: valid.</summary>
    private static ProxyOptions Valid()
    {
        var options = new ProxyOptions();
        options.Listen.Add("http://127.0.0.1:3000");
        for (int i = 1; i <= 3; i++)
        {
            options.Backends.Add(new BackendOptions { Id = $"b{i}", Url = $"http://127.0.0.1:{8080 + i}" });
        }

        return options;
    }

    public static TheoryData<string, string> BadValues => new()
    {
        { "Strategy:DecayMs=0", "Strategy:DecayMs: got '0', expected an integer from 1 to 3600000" },
        { "Strategy:FailurePenaltyMs=-1", "Strategy:FailurePenaltyMs: got '-1', expected an integer from 0 to 3600000" },
        { "Strategy:HashBalanceFactor=99", "Strategy:HashBalanceFactor: got '99', expected 0 (no bound) or a percentage from 100 to 10000 (150: no backend above 1.5 times the average in-flight requests)" },
        { "Strategy:HashBalanceFactor=10001", "Strategy:HashBalanceFactor: got '10001', expected 0 (no bound) or a percentage from 100 to 10000 (150: no backend above 1.5 times the average in-flight requests)" },
        { "Strategy:HashBalanceFactor=150", "Strategy:HashBalanceFactor: got '150', expected 0 with Strategy:Name 'RoundRobin': the bound applies to ConsistentHash and Maglev only" },
        { "Strategy:Name=PeakEwma|Strategy:HashBalanceFactor=150", "Strategy:HashBalanceFactor: got '150', expected 0 with Strategy:Name 'PeakEwma': the bound applies to ConsistentHash and Maglev only" },
        { "SlowStart:WindowMs=-5", "SlowStart:WindowMs: got '-5', expected an integer from 0 to 3600000" },
        { "SlowStart:Aggression=0", "SlowStart:Aggression: got '0', expected a number above 0 and at most 100 (1.0 ramps linearly)" },
        { "SlowStart:Aggression=NaN", "SlowStart:Aggression: got 'NaN', expected a number above 0 and at most 100 (1.0 ramps linearly)" },
        { "SlowStart:MinWeightPercent=101", "SlowStart:MinWeightPercent: got '101', expected a number from 0 to 100" },
        { "Backends:1:Priority=-1", "Backends:1:Priority: got '-1', expected an integer from 0 (primary) to 31" },
        { "Backends:2:Priority=32", "Backends:2:Priority: got '32', expected an integer from 0 (primary) to 31" },
        { "Backends:0:Backup=true|Backends:1:Backup=true|Backends:2:Backup=true", "Backends: got a backup in every entry, expected at least one primary backend (Backup false): backups take traffic only while no primary is available" },
        { "Backends:0:Priority=30|Backends:2:Backup=true|Backends:2:Priority=1", "Backends:2:Priority: got '1', expected at most 0 for a backup: backups take the levels after the primaries' highest (30), and levels end at 31" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void Each_bad_value_gives_one_line_naming_its_key(string changes, string expected)
    {
        ProxyOptions options = Valid();
        Apply(options, changes);
        Assert.Equal([expected], ProxyOptionsValidator.Validate(options));
    }

    [Theory]
    [InlineData("Strategy:Name=PeakEwma|Strategy:DecayMs=1|Strategy:FailurePenaltyMs=0")]
    [InlineData("Strategy:Name=peakewma")]
    [InlineData("Strategy:Name=ConsistentHash|Strategy:HashBalanceFactor=100")]
    [InlineData("Strategy:Name=Maglev|Strategy:HashBalanceFactor=10000")]
    [InlineData("SlowStart:WindowMs=3600000|SlowStart:Aggression=100|SlowStart:MinWeightPercent=0")]
    [InlineData("Backends:0:Priority=31|Backends:1:Priority=0")]
    [InlineData("Backends:0:Priority=29|Backends:2:Backup=true|Backends:2:Priority=1")]
    public void The_edges_of_each_range_are_accepted(string changes)
    {
        ProxyOptions options = Valid();
        Apply(options, changes);
        Assert.Empty(ProxyOptionsValidator.Validate(options));
    }

    [Fact]
    public void PeakEwma_is_a_strategy_name_but_not_a_fallback()
    {
        Assert.Contains("PeakEwma", StrategyNames.All);
        Assert.DoesNotContain("PeakEwma", StrategyNames.Fallbacks);
        ProxyOptions options = Valid();
        Apply(options, "Strategy:Name=ConsistentHash|Strategy:Fallback=PeakEwma");
        string problem = Assert.Single(ProxyOptionsValidator.Validate(options));
        Assert.StartsWith("Strategy:Fallback: got 'PeakEwma', expected one of RoundRobin,", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Levels_put_backups_after_the_primaries_highest_level()
    {
        ProxyOptions options = Valid();
        Assert.Null(BackendLevels.Of(options.Backends, out int none));
        Assert.Equal(32, none);

        Apply(options, "Backends:1:Priority=1|Backends:2:Backup=true");
        Assert.Equal([0, 1, 2], BackendLevels.Of(options.Backends, out int firstBackup)!);
        Assert.Equal(2, firstBackup);

        Apply(options, "Backends:1:Priority=0|Backends:2:Priority=3");
        Assert.Equal([0, 0, 4], BackendLevels.Of(options.Backends, out firstBackup)!);
        Assert.Equal(1, firstBackup);
    }

    [Fact]
    public void The_balancing_keys_bind_from_configuration_and_a_value_of_the_wrong_type_names_its_key()
    {
        var values = new Dictionary<string, string?>
        {
            ["Listen:0"] = "http://127.0.0.1:3000",
            ["Backends:0:Id"] = "b1",
            ["Backends:0:Url"] = "http://127.0.0.1:8081",
            ["Backends:0:Priority"] = "2",
            ["Backends:1:Id"] = "b2",
            ["Backends:1:Url"] = "http://127.0.0.1:8082",
            ["Backends:1:Backup"] = "true",
            ["Strategy:Name"] = "Maglev",
            ["Strategy:HashBalanceFactor"] = "150",
            ["Strategy:DecayMs"] = "5000",
            ["Strategy:FailurePenaltyMs"] = "250",
            ["SlowStart:WindowMs"] = "30000",
            ["SlowStart:Aggression"] = "2.5",
            ["SlowStart:MinWeightPercent"] = "5",
        };
        Assert.Empty(ProxyProgram.LoadAndValidate(new ConfigSources(null, values, []), new Dictionary<string, string>(), out ProxyOptions options));
        Assert.Equal((2, false, 0, true), (options.Backends[0].Priority, options.Backends[0].Backup, options.Backends[1].Priority, options.Backends[1].Backup));
        Assert.Equal((150, 5000, 250), (options.Strategy.HashBalanceFactor, options.Strategy.DecayMs, options.Strategy.FailurePenaltyMs));
        Assert.Equal((30000, 2.5, 5.0), (options.SlowStart.WindowMs, options.SlowStart.Aggression, options.SlowStart.MinWeightPercent));

        values["SlowStart:Aggression"] = "fast";
        values["Backends:1:Backup"] = "maybe";
        List<string> problems = ProxyProgram.LoadAndValidate(new ConfigSources(null, values, []), new Dictionary<string, string>(), out _);
        Assert.Contains("Backends:1:Backup: got 'maybe', expected true or false", problems);
        Assert.Contains("SlowStart:Aggression: got 'fast', expected a number", problems);
    }

    /// <summary>Applies <c>Key:Path=value</c> changes separated by <c>|</c> to the few keys these tests use.</summary>
    private static void Apply(ProxyOptions options, string changes)
    {
        foreach (string change in changes.Split('|'))
        {
            string[] parts = change.Split('=', 2);
            string key = parts[0];
            string value = parts[1];
            string[] path = key.Split(':');
            switch (path[0])
            {
                case "Strategy":
                    SetStrategy(options.Strategy, path[1], value);
                    break;
                case "SlowStart":
                    SetSlowStart(options.SlowStart, path[1], value);
                    break;
                case "Backends":
                    BackendOptions backend = options.Backends[int.Parse(path[1], System.Globalization.CultureInfo.InvariantCulture)];
                    if (path[2] == "Priority")
                    {
                        backend.Priority = Int(value);
                    }
                    else
                    {
                        backend.Backup = bool.Parse(value);
                    }

                    break;
                default:
                    throw new ArgumentException(key);
            }
        }
    }

    private static void SetStrategy(StrategyOptions strategy, string key, string value)
    {
        switch (key)
        {
            case "Name": strategy.Name = value; break;
            case "Fallback": strategy.Fallback = value; break;
            case "DecayMs": strategy.DecayMs = Int(value); break;
            case "FailurePenaltyMs": strategy.FailurePenaltyMs = Int(value); break;
            case "HashBalanceFactor": strategy.HashBalanceFactor = Int(value); break;
            default: throw new ArgumentException(key);
        }
    }

    private static void SetSlowStart(SlowStartOptions slowStart, string key, string value)
    {
        switch (key)
        {
            case "WindowMs": slowStart.WindowMs = Int(value); break;
            case "Aggression": slowStart.Aggression = double.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            case "MinWeightPercent": slowStart.MinWeightPercent = double.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            default: throw new ArgumentException(key);
        }
    }

    private static int Int(string value) => int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
}
