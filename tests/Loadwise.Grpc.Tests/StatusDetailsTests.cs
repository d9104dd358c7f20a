using System.Net;

namespace Loadwise.Grpc.Tests;

public sealed class StatusDetailsTests
{
    /// <summary>A google.rpc.Status (code 8) whose details hold a DebugInfo-like Any first, then a RetryInfo.</summary>
    internal static byte[] StatusWithRetryInfo(long seconds, int nanos)
    {
        byte[] duration = [.. Varint(1 << 3), .. Varint((ulong)seconds), .. Varint(2 << 3), .. Varint((ulong)nanos)];
        byte[] retryInfo = Field(1, duration);
        byte[] other = [.. Field(1, "type.googleapis.com/google.rpc.DebugInfo"u8.ToArray()), .. Field(2, [0x0a, 0x01, 0x78])];
        byte[] retry = [.. Field(1, "type.googleapis.com/google.rpc.RetryInfo"u8.ToArray()), .. Field(2, retryInfo)];
        return [.. Varint(1 << 3), .. Varint(8), .. Field(2, "busy"u8.ToArray()), .. Field(3, other), .. Field(3, retry)];
    }

    [Fact]
    public void Retry_info_is_found_among_the_details()
    {
        Assert.Equal(TimeSpan.FromSeconds(2.5), StatusDetails.FindRetryDelay(StatusWithRetryInfo(2, 500_000_000)));
    }

    [Fact]
    public void Details_without_retry_info_give_no_delay()
    {
        byte[] status = [.. Varint(1 << 3), .. Varint(8), .. Field(3, [.. Field(1, "type.googleapis.com/google.rpc.DebugInfo"u8.ToArray())])];

        Assert.Null(StatusDetails.FindRetryDelay(status));
        Assert.Null(StatusDetails.FindRetryDelay([0xff, 0xff])); // truncated: no delay, no exception
    }

    [Fact]
    public void Unpadded_base64_is_decoded()
    {
        byte[] bytes = StatusWithRetryInfo(1, 0);
        string unpadded = Convert.ToBase64String(bytes).TrimEnd('=');

        Assert.True(StatusDetails.TryDecodeBase64(unpadded, out byte[]? decoded));
        Assert.Equal(bytes, decoded);
    }

    [Theory]
    [InlineData("14", null, "Failure")]
    [InlineData("8", "250", "RateLimited")]
    [InlineData("8", null, null)]
    [InlineData("5", null, "Success")]
    [InlineData(null, null, "Success")]
    public void Response_headers_map_to_outcomes(string? status, string? pushback, string? expected)
    {
        using var response = new HttpResponseMessage(HttpStatusCode.OK);
        if (status is not null)
        {
            response.Headers.TryAddWithoutValidation("grpc-status", status);
        }

        if (pushback is not null)
        {
            response.Headers.TryAddWithoutValidation("grpc-retry-pushback-ms", pushback);
        }

        Outcome? outcome = GrpcResponseStatus.Read(response);

        Assert.Equal(expected, outcome?.Kind.ToString());
        if (pushback is not null)
        {
            Assert.Equal(TimeSpan.FromMilliseconds(250), outcome!.Value.RetryAfter);
        }
    }

    [Fact]
    public void A_non_200_response_is_a_failure()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.BadGateway);

        Assert.Equal(OutcomeKind.Failure, GrpcResponseStatus.Read(response)!.Value.Kind);
    }

    private static byte[] Field(int number, byte[] body) => [.. Varint((ulong)(number << 3 | 2)), .. Varint((ulong)body.Length), .. body];

    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? b : (byte)(b | 0x80));
        }
        while (value != 0);
        return [.. bytes];
    }
}
