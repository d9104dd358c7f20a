using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.IntegrationTests;

/// <summary>The State section (shared health through Redis): each bad value gives one line naming the key.</summary>
public sealed class StateConfigTests
{
    private static Dictionary<string, string?> Valid() => new()
    {
        ["Listen:0"] = "http://127.0.0.1:3000",
        ["Backends:0:Id"] = "b1",
        ["Backends:0:Url"] = "http://127.0.0.1:8081",
        ["State:Redis"] = "127.0.0.1:6379",
        ["State:KeyPrefix"] = "lw:",
    };

    public static TheoryData<string, string, string> BadValues => new()
    {
        { "State:Redis", "   ", "State:Redis: got '   ', expected a Redis endpoint such as 127.0.0.1:6379 (StackExchange.Redis configuration syntax)" },
        { "State:Redis", "password=secret", "State:Redis: got 'password=secret', expected a Redis endpoint such as 127.0.0.1:6379 (StackExchange.Redis configuration syntax)" },
        { "State:KeyPrefix", "lw{1}:", "State:KeyPrefix: got 'lw{1}:', expected a prefix without '{' or '}' such as lw:" },
        { "State:EjectQuorum", "0", "State:EjectQuorum: got '0', expected an integer from 1 to 1000" },
        { "State:ReconcileMs", "50", "State:ReconcileMs: got '50', expected an integer from 100 to 600000" },
        { "State:OperationTimeoutMs", "0", "State:OperationTimeoutMs: got '0', expected an integer from 10 to 60000" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void Each_bad_state_value_gives_its_exact_message(string key, string value, string expected)
    {
        Dictionary<string, string?> config = Valid();
        config[key] = value;
        List<string> problems = ProxyProgram.LoadAndValidate(new ConfigSources(null, config, []), new Dictionary<string, string>(), out _);
        Assert.Equal([expected], problems);
    }

    [Fact]
    public void A_valid_state_section_binds_and_an_absent_one_is_off()
    {
        Assert.Empty(ProxyProgram.LoadAndValidate(new ConfigSources(null, Valid(), []), new Dictionary<string, string>(), out ProxyOptions options));
        Assert.Equal("127.0.0.1:6379", options.State.Redis);
        Assert.Equal(1, options.State.EjectQuorum);

        Dictionary<string, string?> without = Valid();
        without.Remove("State:Redis");
        without.Remove("State:KeyPrefix");
        Assert.Empty(ProxyProgram.LoadAndValidate(new ConfigSources(null, without, []), new Dictionary<string, string>(), out options));
        Assert.Null(options.State.Redis);
    }
}
