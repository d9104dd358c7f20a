using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace Loadwise.Soak;

/// <summary>What one client saw for one request, and what it sent.</summary>
internal sealed record Exchange(string Client, string Method, string Id, long SentLength, ulong SentSum);

/// <summary>
/// Checks every response against its request. A response that carries another request's id (in a header or the
/// body), or a stray the raw backend sent unasked, is a wrong-client delivery; a 200 whose echo is not its own, or
/// whose POST length or checksum differ, is an anomaly.
/// </summary>
internal sealed class ResponseCheck(Stats stats, Stopwatch clock)
{
    public const string InherentStray = "stray the raw backend wrote after the proxy had already sent the next request on that connection (no HTTP/1.1 client can tell it from the answer)";
    public const string ProxyStray = "a stray response (bytes no request asked for) delivered to a client";
    public const string OtherAnswer = "another request's own response delivered to a client";

    /// <summary>Checks a response and returns its outcome (the status code).</summary>
    public string Check(Exchange exchange, int status, List<KeyValuePair<string, string>> headers, byte[] body, string handler, AfterStray? afterStray)
    {
        string text = Protocol.Latin1(body);
        var foreign = new SortedSet<string>(StringComparer.Ordinal);
        string? strayHeader = null;
        string? echo = null;
        foreach (var header in headers)
        {
            foreign.UnionWith(Protocol.FindIds(header.Value, stats.IdPrefix).Where(id => id != exchange.Id));
            if (header.Key.Equals(Protocol.StrayHeader, StringComparison.OrdinalIgnoreCase))
            {
                strayHeader = header.Value;
            }

            if (header.Key.Equals(Protocol.EchoIdHeader, StringComparison.OrdinalIgnoreCase))
            {
                echo = echo is null ? header.Value : echo + ", " + header.Value;
            }
        }

        foreign.UnionWith(Protocol.FindIds(text, stats.IdPrefix).Where(id => id != exchange.Id));
        bool stray = strayHeader is not null || text.Contains("be=raw-stray", StringComparison.Ordinal);
        if (foreign.Count > 0 || stray)
        {
            bool inherent = strayHeader?.EndsWith(";request-already-sent", StringComparison.Ordinal) == true
                || (afterStray is not null && afterStray.GapMs is null);
            Stats.Add(stats.WrongClient, inherent ? InherentStray : stray ? ProxyStray : OtherAnswer);
            Stats.Add(stats.WrongClientCauses, afterStray?.Cause ?? "(no stray recorded on the raw backend's connection before this request)");
            if (afterStray?.GapMs is double gap)
            {
                stats.WrongClientGapsMs.Add(gap);
            }

            string detail = Describe(exchange, status, headers, text, handler, afterStray) + $" foreign ids [{string.Join(", ", foreign)}]";
            stats.Detail(stats.WrongClientDetails, detail);
            if (Stats.Sum(stats.WrongClient) <= 5)
            {
                Console.Error.WriteLine("WRONG-CLIENT " + detail);
            }
            return Outcome(status);
        }

        string? problem = status switch
        {
            200 when exchange.Method == "HEAD" => echo != exchange.Id ? "HEAD 200 without its own X-Echo-Id" : body.Length > 0 ? "HEAD 200 with a body" : null,
            200 => CheckEcho(exchange, echo, text),
            204 => echo != exchange.Id ? "204 without its own X-Echo-Id" : body.Length > 0 ? "204 with a body" : null,
            _ => null,
        };
        if (problem is not null)
        {
            Stats.Add(stats.Anomalies, problem);
            stats.Detail(stats.AnomalyDetails, problem + ": " + Describe(exchange, status, headers, text, handler, afterStray));
        }

        return Outcome(status);
    }

    private static string? CheckEcho(Exchange exchange, string? echo, string text)
    {
        if (Protocol.Field(text, "id") != exchange.Id || Protocol.Field(text, "hid") != exchange.Id || echo != exchange.Id)
        {
            return "200 without its own echo (body id, header id or X-Echo-Id)";
        }

        string expected = exchange.SentSum.ToString("x16", CultureInfo.InvariantCulture);
        if (Protocol.Field(text, "len") != exchange.SentLength.ToString(CultureInfo.InvariantCulture) || Protocol.Field(text, "sum") != expected)
        {
            return "request body changed on the way (length or checksum the backend saw differs)";
        }

        return null;
    }

    public static string Outcome(int status) => status.ToString(CultureInfo.InvariantCulture);

    /// <summary>Records bytes a raw client got outside any response (between responses, or after one).</summary>
    public void Unsolicited(Exchange? exchange, string where, byte[] bytes)
    {
        string text = Protocol.Latin1(bytes);
        var ids = Protocol.FindIds(text, stats.IdPrefix).Where(id => id != exchange?.Id).ToList();
        string what = $"{bytes.Length} bytes from the proxy {where}";
        if (ids.Count > 0 || text.Contains("be=raw-stray", StringComparison.Ordinal))
        {
            Stats.Add(stats.WrongClient, ProxyStray);
            stats.Detail(stats.WrongClientDetails, $"{Elapsed()} raw client: {what}, foreign ids [{string.Join(", ", ids)}]: '{ByteReader.Printable(text)}'");
        }

        Stats.Add(stats.Anomalies, $"bytes from the proxy {where}");
        stats.Detail(stats.AnomalyDetails, $"{Elapsed()} raw client {exchange?.Method} {exchange?.Id}: {what}: '{ByteReader.Printable(text)}'");
    }

    /// <summary>Names a failure the client saw: "reset (before response headers)", "response-ended (in response body)"...</summary>
    public static string Classify(Exception e, bool inBody)
    {
        string where = inBody ? "in response body" : "before response headers";
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is SocketException socket)
            {
                return socket.SocketErrorCode switch
                {
                    SocketError.ConnectionReset => $"reset ({where})",
                    SocketError.ConnectionRefused => "connection refused",
                    _ => $"socket {socket.SocketErrorCode} ({where})",
                };
            }
        }

        return e switch
        {
            EndOfStreamBeforeMessageException => $"response-ended ({where})",
            ProtocolViolationException => $"invalid response ({where}, strict client)",
            HttpIOException io => $"{Kebab(io.HttpRequestError)} ({where})",
            HttpRequestException { HttpRequestError: var error } => $"{Kebab(error)} ({where})",
            IOException => $"io error ({where})",
            _ => $"{e.GetType().Name} ({where})",
        };
    }

    private static string Kebab(HttpRequestError error) => error switch
    {
        HttpRequestError.ResponseEnded => "response-ended",
        HttpRequestError.InvalidResponse => "invalid response",
        HttpRequestError.ConnectionError => "connection error",
        _ => error.ToString(),
    };

    public static List<KeyValuePair<string, string>> Flatten(HttpResponseHeaders headers, HttpContentHeaders? content)
    {
        var list = new List<KeyValuePair<string, string>>();
        foreach (var header in headers.NonValidated)
        {
            list.Add(new(header.Key, header.Value.ToString()));
        }

        if (content is not null)
        {
            foreach (var header in content.NonValidated)
            {
                list.Add(new(header.Key, header.Value.ToString()));
            }
        }

        return list;
    }

    private string Elapsed() => $"[{clock.Elapsed:hh\\:mm\\:ss\\.fff}]";

    private string Describe(Exchange exchange, int status, List<KeyValuePair<string, string>> headers, string text, string handler, AfterStray? afterStray)
        => $"{Elapsed()} {exchange.Client} {exchange.Method} {exchange.Id} -> {status}; handled by '{handler}'"
            + (afterStray is null ? string.Empty : $"; {afterStray.Text}")
            + $"; headers [{string.Join("; ", headers.Select(h => h.Key + ": " + h.Value))}]; body '{ByteReader.Printable(text)}'";
}
