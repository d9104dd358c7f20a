namespace Loadwise.Http.Tests;

/// <summary>How an endpoint rewrites a request's URI: scheme, host, port and base path replaced, path and query kept.</summary>
public sealed class HttpEndpointTests
{
    [Theory]
    [InlineData("http://10.0.0.5:8080", "http://catalog/items?page=2", "http://10.0.0.5:8080/items?page=2")]
    [InlineData("https://eu.example.com/v2/", "http://catalog/items/7?q=a%20b", "https://eu.example.com/v2/items/7?q=a%20b")]
    [InlineData("http://10.0.0.5:8080", "http://catalog/", "http://10.0.0.5:8080/")]
    public void Rewrite_keeps_path_and_query(string endpoint, string logical, string expected)
    {
        Assert.Equal(expected, HttpEndpoint.Parse(endpoint).Rewrite(new Uri(logical)).AbsoluteUri);
    }

    [Fact]
    public void A_repeated_logical_uri_gets_the_same_rewritten_instance_and_each_endpoint_its_own()
    {
        HttpEndpoint a = HttpEndpoint.Parse("http://10.0.0.5:8080"), b = HttpEndpoint.Parse("http://10.0.0.6:8080");
        Uri first = a.Rewrite(new Uri("http://catalog/items?page=2"));
        Assert.Same(first, a.Rewrite(new Uri("http://catalog/items?page=2")));
        Assert.NotSame(first, a.Rewrite(new Uri("http://catalog/items?page=3")));
        Assert.Equal("http://10.0.0.6:8080/items?page=2", b.Rewrite(new Uri("http://catalog/items?page=2")).AbsoluteUri);
    }

    [Fact]
    public void Paths_past_the_bound_are_rewritten_correctly_but_not_kept()
    {
        HttpEndpoint endpoint = HttpEndpoint.Parse("http://10.0.0.5:8080");
        for (int i = 0; i < HttpEndpoint.MaxRewrittenKept + 10; i++)
        {
            Assert.Equal($"http://10.0.0.5:8080/items/{i}", endpoint.Rewrite(new Uri($"http://catalog/items/{i}")).AbsoluteUri);
        }

        var late = new Uri($"http://catalog/items/{HttpEndpoint.MaxRewrittenKept + 5}");
        Assert.NotSame(endpoint.Rewrite(late), endpoint.Rewrite(late));
        Assert.Same(endpoint.Rewrite(new Uri("http://catalog/items/0")), endpoint.Rewrite(new Uri("http://catalog/items/0")));
    }
}
