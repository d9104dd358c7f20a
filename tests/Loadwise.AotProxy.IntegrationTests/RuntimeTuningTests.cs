using System.Net;
using Loadwise.AotProxy.Configuration;
using Loadwise.AotProxy.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace Loadwise.AotProxy.IntegrationTests;

public sealed class RuntimeTuningTests
{
    private const string Variable = RuntimeTuning.InlineCompletionsVariable;

    [Fact]
    public void Inline_completions_are_on_by_default_off_when_configured_and_an_explicit_environment_value_wins()
    {
        // A dictionary for the environment: the test changes nothing process-wide.
        var environment = new Dictionary<string, string>();
        bool Apply(PerformanceOptions options) => RuntimeTuning.Apply(options, name => environment.GetValueOrDefault(name), (name, value) => environment[name] = value);

        Assert.True(Apply(new PerformanceOptions()));
        Assert.Equal("1", environment[Variable]);

        environment.Clear();
        Assert.False(Apply(new PerformanceOptions { InlineSocketCompletions = false }));
        Assert.False(environment.ContainsKey(Variable));

        environment[Variable] = "0";
        Assert.False(Apply(new PerformanceOptions()));
        Assert.Equal("0", environment[Variable]);
    }

    [Fact]
    public void The_sample_configuration_binds_the_performance_section()
    {
        List<string> problems = ProxyProgram.LoadAndValidate(
            new ConfigSources(Path.Combine(ConfigValidationTests.RepoRoot(), "samples", "loadwise.json"), null, ["--Performance:InlineSocketCompletions=false"]),
            new Dictionary<string, string>(),
            out ProxyOptions options);
        Assert.Empty(problems);
        Assert.False(options.Performance.InlineSocketCompletions);
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public async Task Inline_scheduling_reaches_Kestrels_socket_transport(bool? configured, bool expected) =>
        await AssertTransportSettingAsync(
            options => options.Performance.InlineScheduling = configured ?? options.Performance.InlineScheduling,
            static transport => transport.UnsafePreferInlineScheduling,
            expected);

    [Theory]
    [InlineData(null, false)]
    [InlineData(true, true)]
    public async Task The_zero_byte_read_setting_reaches_Kestrels_socket_transport(bool? configured, bool expected) =>
        await AssertTransportSettingAsync(
            options => options.Performance.WaitForDataBeforeAllocatingBuffer = configured ?? options.Performance.WaitForDataBeforeAllocatingBuffer,
            static transport => transport.WaitForDataBeforeAllocatingBuffer,
            expected);

    /// <summary>Starts a proxy with <paramref name="configure"/>, checks the socket transport's setting, and that it still serves.</summary>
    private static async Task AssertTransportSettingAsync(Action<ProxyOptions> configure, Func<SocketTransportOptions, bool> setting, bool expected)
    {
        await using TestProxy proxy = await TestProxy.StartAsync(configure);
        Assert.Equal(expected, setting(proxy.Server.Transport));
        using HttpResponseMessage response = await proxy.Client.GetAsync("/", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
