using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Loadwise.Bench.EventStream;

/// <summary>Opens many event streams at once and measures each event's delay from the backend's send to its arrival.</summary>
internal static class EventClients
{
    public static async Task<DelayReport> RunAsync(Uri url, int streams, TimeSpan duration)
    {
        using var stop = new CancellationTokenSource(duration);
        var delays = new List<double>[streams];
        var runs = new Task<bool>[streams];
        for (int i = 0; i < streams; i++)
        {
            delays[i] = new List<double>(1024);
            runs[i] = StreamAsync(url, delays[i], stop.Token);
        }

        bool[] results = await Task.WhenAll(runs);
        return DelayReport.From([.. delays.SelectMany(d => d)], results.Count(ok => !ok));
    }

    /// <summary>One stream: true when it ran until the end of the measurement.</summary>
    private static async Task<bool> StreamAsync(Uri url, List<double> delays, CancellationToken stop)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(url.Host), url.Port), stop);
            await socket.SendAsync(Encoding.ASCII.GetBytes(
                $"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nAccept: text/event-stream\r\n\r\n"), stop);
            var reader = new HeadReader(socket);
            string? status = await reader.ReadHeadAsync(stop);
            if (status is null || !status.StartsWith("HTTP/1.1 200", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"stream answered: {status ?? "(closed)"}");
                return false;
            }

            // Every "data: <timestamp>\n" in what follows is one event; chunk-size lines never contain "data: ".
            await foreach (long sent in reader.ReadEventTimestampsAsync(stop))
            {
                delays.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
            }

            Console.Error.WriteLine("stream ended before the measurement did");
            return false;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return true;
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            Console.Error.WriteLine($"stream failed: {e.Message}");
            return false;
        }
    }
}

/// <summary>The delays of every event of a run.</summary>
internal sealed record DelayReport(int Events, int FailedStreams, double P50, double P99, double P999, double Max)
{
    public static DelayReport From(double[] delays, int failedStreams)
    {
        Array.Sort(delays);
        double At(double q) => delays.Length == 0 ? double.NaN : delays[Math.Min(delays.Length - 1, (int)Math.Ceiling(q * delays.Length) - 1)];
        return new DelayReport(delays.Length, failedStreams, At(0.50), At(0.99), At(0.999), delays.Length == 0 ? double.NaN : delays[^1]);
    }

    public string ToLine() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Events} {FailedStreams} {P50:F3} {P99:F3} {P999:F3} {Max:F3}");
}
