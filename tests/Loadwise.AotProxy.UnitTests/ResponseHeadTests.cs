using System.Buffers;
using System.Text;
using Loadwise.AotProxy.Http;

namespace Loadwise.AotProxy.UnitTests;

/// <summary>The response-head parser of the proxy's own backend connections.</summary>
public sealed class ResponseHeadTests
{
    private static (OperationStatus Status, ResponseHead Head, int Consumed) Parse(string text, bool head = false)
    {
        var parsed = new ResponseHead();
        OperationStatus status = parsed.TryParse(Encoding.Latin1.GetBytes(text), head, out int consumed, out _);
        return (status, parsed, consumed);
    }

    [Fact]
    public void A_content_length_response_is_length_framed_and_reusable()
    {
        const string Text = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello";
        var (status, head, consumed) = Parse(Text);
        Assert.Equal(OperationStatus.Done, status);
        Assert.Equal(200, head.Status);
        Assert.Equal(BodyFraming.ContentLength, head.Framing);
        Assert.Equal(5, head.ContentLength);
        Assert.True(head.KeepAlive);
        Assert.Equal(Text.Length - 5, consumed);
        List<KeyValuePair<string, string>> headers = head.GetHeaders(Encoding.Latin1.GetBytes(Text));
        Assert.Equal(["Content-Length", "X-A", "X-A"], headers.Select(h => h.Key));
        Assert.Equal(["5", "1", "2"], headers.Select(h => h.Value));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "Chunked", true)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "Chunked", true)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "UntilClose", false)]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n", "UntilClose", false)]
    [InlineData("HTTP/1.1 204 No Content\r\n\r\n", "None", true)]
    [InlineData("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", "None", true)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", "ContentLength", false)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", "ContentLength", true)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", "ContentLength", false)]
    public void Framing_and_reuse_follow_RFC_9112(string text, string framing, bool keepAlive)
    {
        var (status, head, _) = Parse(text);
        Assert.Equal(OperationStatus.Done, status);
        Assert.Equal(framing, head.Framing.ToString());
        Assert.Equal(keepAlive, head.KeepAlive);
    }

    [Fact]
    public void A_HEAD_answer_has_no_body_whatever_it_announces()
    {
        var (_, head, _) = Parse("HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n", head: true);
        Assert.Equal(BodyFraming.None, head.Framing);
        Assert.Equal(1024, head.ContentLength);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n")]
    [InlineData("HTTP/1.1 200 O")]
    [InlineData("")]
    public void An_incomplete_head_needs_more_data(string text) => Assert.Equal(OperationStatus.NeedMoreData, Parse(text).Status);

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nno colon\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nTransfer-Encoding: identity\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX(y): 1\r\n\r\n")]
    [InlineData("HTTP/2 200\r\n\r\n")]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 099 Odd\r\n\r\n")]
    [InlineData("HTTP/1.1 200OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\rb\nX-B: c\r\n\r\n")] // as many CRs as LFs, but not paired
    [InlineData("HTTP/1.1 200 OK\r\nX\u0001A: 1\r\n\r\n")] // a control byte in a name
    [InlineData("HTTP/1.1 200 OK\r\nX-A\t: 1\r\n\r\n")]
    public void A_malformed_head_is_invalid(string text) => Assert.Equal(OperationStatus.InvalidData, Parse(text).Status);

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(10)]
    [InlineData(13)]
    [InlineData(31)]
    [InlineData(127)]
    public void A_control_character_in_a_value_is_invalid(int control)
    {
        var parsed = new ResponseHead();
        byte[] text = Encoding.Latin1.GetBytes($"HTTP/1.1 200 OK\r\nX-A: a{(char)control}b\r\nContent-Length: 0\r\n\r\n");
        Assert.Equal(OperationStatus.InvalidData, parsed.TryParse(text, false, out _, out string? error));
        Assert.Equal("control character in the response head", error);
    }

    [Theory]
    [InlineData("a\tb")]
    [InlineData("caf\u00e9 ~!")]
    public void Tabs_and_visible_bytes_in_a_value_are_kept(string value)
    {
        var (status, head, _) = Parse($"HTTP/1.1 200 OK\r\nX-A: {value}\r\nContent-Length: 0\r\n\r\n");
        Assert.Equal(OperationStatus.Done, status);
        Assert.Equal(value, head.GetHeaders(Encoding.Latin1.GetBytes($"HTTP/1.1 200 OK\r\nX-A: {value}\r\nContent-Length: 0\r\n\r\n"))[0].Value);
    }

    [Theory]
    [InlineData("Connection: keep-alive", "keep-alive", null, true)]
    [InlineData("Connection: Keep-Alive", "keep-alive", null, true)]
    [InlineData("connection: CLOSE", "close", null, false)]
    [InlineData("Connection: keep-alive, X-Private", "keep-alive, X-Private", "keep-alive, X-Private", true)]
    [InlineData("Connection: keep-alive\r\nConnection: X-Private", "keep-alive, X-Private", "keep-alive, X-Private", true)]
    [InlineData("Connection: X-Private, close", "X-Private, close", "X-Private, close", false)]
    public void Connection_values_decide_reuse_and_which_headers_are_hop_by_hop(string line, string connection, string? names, bool keepAlive)
    {
        var (_, head, _) = Parse($"HTTP/1.1 200 OK\r\n{line}\r\nContent-Length: 0\r\n\r\n");
        Assert.Equal(connection, head.Connection, ignoreCase: true);
        Assert.Equal(names, head.ConnectionNames);
        Assert.Equal(keepAlive, head.KeepAlive);
    }

    [Fact]
    public void A_parser_reused_for_the_next_response_forgets_the_last_ones_fields()
    {
        var parsed = new ResponseHead();
        parsed.TryParse(Encoding.Latin1.GetBytes("HTTP/1.1 429 Slow\r\nRetry-After: 2\r\nConnection: X-P\r\nDate: x\r\nContent-Length: 0\r\n\r\n"), false, out _, out _);
        Assert.Equal(OperationStatus.Done, parsed.TryParse(Encoding.Latin1.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), false, out _, out _));
        Assert.Null(parsed.RetryAfter);
        Assert.Null(parsed.Connection);
        Assert.Null(parsed.ConnectionNames);
        Assert.False(parsed.HasDate);
        Assert.Equal(1, parsed.FieldCount);
    }

    [Fact]
    public void Retry_after_and_connection_tokens_are_kept_for_health_and_hop_by_hop_rules()
    {
        var (_, head, _) = Parse("HTTP/1.1 429 Too Many\r\nRetry-After: 2\r\nConnection: X-Private\r\nContent-Length: 0\r\n\r\n");
        Assert.Equal("2", head.RetryAfter);
        Assert.Equal("X-Private", head.Connection);
        Assert.True(head.KeepAlive);
    }
}
