using System.Text.Json.Nodes;
using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.UnitTests.Configuration;

/// <summary>What the admin API shows of the configuration, and how it checks its token.</summary>
public sealed class AdminSecretsTests
{
    [Theory]
    [InlineData("""{"Url":"http://user:pa55@10.0.0.1:8080/"}""", """{"Url":"http://***@10.0.0.1:8080/"}""")]
    [InlineData("""{"Redis":"10.0.0.9:6379,password=pa55,ssl=true"}""", """{"Redis":"10.0.0.9:6379,password=***,ssl=true"}""")]
    [InlineData("""{"Db":"Server=x;Password=pa55"}""", """{"Db":"Server=x;Password=***"}""")]
    [InlineData("""{"Password":"pa55","ClientSecret":"pa55","BearerToken":"pa55","ApiKey":"pa55"}""", """{"Password":"***","ClientSecret":"***","BearerToken":"***","ApiKey":"***"}""")]
    [InlineData("""{"TokenFile":"/run/secrets/t","TokenEnvironmentVariable":"LW_TOKEN"}""", """{"TokenFile":"/run/secrets/t","TokenEnvironmentVariable":"LW_TOKEN"}""")]
    [InlineData("""{"Backends":[{"Url":"http://a:b@h/"}],"List":["http://c:d@h/"]}""", """{"Backends":[{"Url":"http://***@h/"}],"List":["http://***@h/"]}""")]
    [InlineData("""{"Endpoint":"https://u:p%40ss word@collector:4318/v1"}""", """{"Endpoint":"https://***@collector:4318/v1"}""")]
    [InlineData("""{"Url":"http://10.0.0.1:8080/","Name":"RoundRobin"}""", """{"Url":"http://10.0.0.1:8080/","Name":"RoundRobin"}""")]
    public void Secrets_are_replaced_and_the_rest_is_kept(string json, string expected)
    {
        JsonNode node = JsonNode.Parse(json)!;
        ProxyOptionsJson.Redact(node);
        Assert.Equal(expected, node.ToJsonString());
    }

    [Fact]
    public void The_whole_configuration_serialises_with_every_section()
    {
        var options = new ProxyOptions();
        options.Backends.Add(new BackendOptions { Id = "a", Url = "http://127.0.0.1:9001" });
        JsonObject json = ProxyOptionsJson.Redacted(options);
        foreach (string section in new[] { "Listen", "Backends", "Strategy", "Admin", "Reload", "Metrics", "Limits", "Retries" })
        {
            Assert.True(json.ContainsKey(section), section);
        }
    }

    [Fact]
    public void The_token_is_read_trimmed_and_checked_exactly()
    {
        string variable = "LOADWISE_UNIT_TOKEN_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "  0123456789abcdefXYZ\n");
        try
        {
            Assert.True(AdminToken.TryRead(null, variable, out string? token, out string? problem), problem);
            Assert.Equal("0123456789abcdefXYZ", token);
            AdminToken check = AdminToken.From(new AdminOptions { TokenEnvironmentVariable = variable })!;
            Assert.True(check.Allows("Bearer 0123456789abcdefXYZ"));
            Assert.False(check.Allows("Bearer 0123456789abcdefXY"));
            Assert.False(check.Allows("Bearer 0123456789abcdefXYZZ"));
            Assert.False(check.Allows("Basic 0123456789abcdefXYZ"));
            Assert.False(check.Allows(null));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Theory]
    [InlineData("short", "at least 16 characters")]
    [InlineData("0123456789 abcdefgh", "without spaces")]
    public void A_weak_token_is_refused_with_the_fix(string value, string expected)
    {
        string variable = "LOADWISE_UNIT_TOKEN_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, value);
        try
        {
            Assert.False(AdminToken.TryRead(null, variable, out _, out string? problem));
            Assert.Contains(expected, problem, StringComparison.Ordinal);
            Assert.Contains("openssl rand", problem, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }
}
