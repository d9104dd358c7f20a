using System.Text;
using Loadwise.AotProxy.Downstream;

namespace Loadwise.AotProxy.UnitTests;

/// <summary>The fast path's request-head parser: what it forwards itself, and everything it leaves to Kestrel.</summary>
public sealed class RequestHeadTests
{
    private static readonly RequestHeadLimits Limits = new(MaxRequestLineBytes: 8192, MaxHeaderBytes: 1024, MaxHeaderCount: 4, MaxBodyBytes: 100);

    private static readonly string[] ReadHeaders = ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Tenant"];

    private static (RequestHeadParse Parse, RequestHead Head) Parse(string text)
    {
        var head = new RequestHead();
        return (head.TryParse(Encoding.Latin1.GetBytes(text), Limits, ReadHeaders), head);
    }

    [Fact]
    public void A_plain_GET_is_simple_and_its_parts_are_located()
    {
        const string Text = "GET /a/b?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nX-Custom:  v 1 \r\n\r\nGET / HTTP/1.1\r\n";
        var (parse, head) = Parse(Text);
        byte[] bytes = Encoding.Latin1.GetBytes(Text);

        Assert.Equal(RequestHeadParse.Simple, parse);
        Assert.False(head.IsHead);
        Assert.Equal("GET", head.Method);
        Assert.Equal(Text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4, head.Length);
        Assert.Equal("/a/b?x=1", Encoding.Latin1.GetString(bytes, head.TargetStart, head.TargetLength));
        Assert.Equal(4, head.PathLength);
        Assert.Equal(2, head.FieldCount);
        Assert.Equal("example.com:8080", Encoding.Latin1.GetString(head.Fields[head.HostField].Value(bytes)));
        Assert.Equal("v 1", Encoding.Latin1.GetString(head.Find(bytes, "x-custom")));
        Assert.True(head.Find(bytes, "X-Absent").IsEmpty);
        Assert.False(head.Close);
    }

    [Fact]
    public void HEAD_and_Connection_close_are_simple()
    {
        var (parse, head) = Parse("HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        Assert.Equal(RequestHeadParse.Simple, parse);
        Assert.True(head.IsHead);
        Assert.True(head.Close);
    }

    [Theory]
    [InlineData("POST", "5", 5)]
    [InlineData("PUT", "100", 100)]
    [InlineData("PATCH", "0", 0)]
    [InlineData("DELETE", "007", 7)]
    [InlineData("OPTIONS", "1", 1)]
    [InlineData("GET", "0", 0)]
    public void A_body_of_one_plain_Content_Length_is_simple(string method, string length, long expected)
    {
        var (parse, head) = Parse($"{method} /upload HTTP/1.1\r\nHost: a\r\ncontent-length: {length}\r\n\r\n");
        Assert.Equal(RequestHeadParse.Simple, parse);
        Assert.Equal(method, head.Method);
        Assert.Equal(expected, head.BodyLength);
        Assert.Equal(method + " ", Encoding.ASCII.GetString(head.MethodPrefix));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHo")]
    [InlineData("GE")]
    public void An_incomplete_head_needs_more_data(string text) => Assert.Equal(RequestHeadParse.NeedMoreData, Parse(text).Parse);

    [Theory]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", "two Content-Lengths, even equal")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx", "a Content-Length list")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx", "a signed Content-Length")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x1\r\n\r\nx", "a hex Content-Length")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\nx", "a Content-Length over the body limit")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\nx", "a Content-Length that overflows")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\nx", "Content-Length with Transfer-Encoding")]
    [InlineData("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", "a chunked body")]
    [InlineData("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", "TRACE")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX-Content-Length: 5\r\n\r\n", "X-Content-Length")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", "Expect")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", "Upgrade")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Secret\r\n\r\n", "a Connection header naming other headers")]
    [InlineData("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "the asterisk form")]
    [InlineData("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", "CONNECT")]
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "the HTTP/2 preface")]
    [InlineData("GET / HTTP/1.0\r\nHost: a\r\n\r\n", "HTTP/1.0")]
    [InlineData("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "absolute-form target")]
    [InlineData("GET /a%2Fb HTTP/1.1\r\nHost: a\r\n\r\n", "percent-encoding in the path")]
    [InlineData("GET /a/../b HTTP/1.1\r\nHost: a\r\n\r\n", "a dot segment")]
    [InlineData("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", "a fragment")]
    [InlineData("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", "a space in the target")]
    [InlineData("GET / HTTP/1.1\r\n\r\n", "no Host")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "two Hosts")]
    [InlineData("GET / HTTP/1.1\r\nHost:\r\n\r\n", "an empty Host")]
    [InlineData("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "a space in Host")]
    [InlineData("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", "userinfo in Host")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n\r\n", "a repeated header the proxy reads")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nx-tenant: 1\r\nX-TENANT: 2\r\n\r\n", "a repeated hash-key header")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n", "obsolete line folding")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n", "whitespace before the colon")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", "an empty name")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\nX-B: 2\r\n\r\n", "a bare LF")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\rX-B: 2\r\n\r\n", "a bare CR")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\u00e9\r\n\r\n", "a byte above ASCII")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX-A: \u0001\r\n\r\n", "a control character")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", "more headers than the limit")]
    [InlineData("get / HTTP/1.1\r\nHost: a\r\n\r\n", "a lower-case method")]
    public void Anything_else_is_handed_to_Kestrel(string text, string why)
    {
        Assert.True(Parse(text).Parse == RequestHeadParse.HandOff, why);
    }

    [Fact]
    public void Headers_over_the_size_limit_are_handed_to_Kestrel_whether_or_not_the_head_is_complete()
    {
        string big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + new string('x', 2000) + "\r\n\r\n";
        Assert.Equal(RequestHeadParse.HandOff, Parse(big).Parse);

        // No blank line yet, but already past what Kestrel would accept: Kestrel answers 431 or 414.
        string endless = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + new string('x', 9300);
        Assert.Equal(RequestHeadParse.HandOff, Parse(endless).Parse);
    }

    [Fact]
    public void The_parser_is_reused_across_requests_without_leftovers()
    {
        var head = new RequestHead();
        Assert.Equal(RequestHeadParse.Simple, head.TryParse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nA: 1\r\n\r\n"u8, Limits, ReadHeaders));
        Assert.Equal(RequestHeadParse.Simple, head.TryParse("HEAD /x HTTP/1.1\r\nHost: b\r\n\r\n"u8, Limits, ReadHeaders));
        Assert.True(head.IsHead);
        Assert.False(head.Close);
        Assert.Equal(1, head.FieldCount);
        Assert.Equal(0, head.HostField);
    }
}
