using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Loadwise.Bench.EventStream;

/// <summary>
/// A raw-socket backend: <c>GET /events</c> gets a chunked <c>text/event-stream</c> that carries one event per interval,
/// <c>data: &lt;timestamp&gt;</c>, the timestamp taken just before the send (<see cref="Stopwatch"/>: the system's
/// monotonic clock, the same in every process, so the clients can subtract it). Any other request gets 200 "ok".
/// </summary>
internal static class EventBackend
{
    public static async Task RunAsync(int port, TimeSpan interval, CancellationToken stop)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(1024);
        Console.Error.WriteLine($"event backend on 127.0.0.1:{port}, one event per {interval.TotalMilliseconds} ms");
        while (!stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            socket.NoDelay = true;
            _ = ServeAsync(socket, interval, stop);
        }
    }

    private static async Task ServeAsync(Socket socket, TimeSpan interval, CancellationToken stop)
    {
        using (socket)
        {
            var reader = new HeadReader(socket);
            try
            {
                while (await reader.ReadHeadAsync(stop) is { } requestLine)
                {
                    if (!requestLine.StartsWith("GET /events", StringComparison.Ordinal))
                    {
                        await socket.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray(), stop);
                        continue;
                    }

                    await socket.SendAsync(Encoding.ASCII.GetBytes(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                        + "X-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n\r\n"), stop);
                    using var timer = new PeriodicTimer(interval);
                    byte[] chunk = new byte[64];
                    while (await timer.WaitForNextTickAsync(stop))
                    {
                        string data = $"data: {Stopwatch.GetTimestamp()}\n\n";
                        int length = Encoding.ASCII.GetBytes($"{data.Length:x}\r\n{data}\r\n", chunk);
                        await socket.SendAsync(chunk.AsMemory(0, length), stop);
                    }
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
            {
                // The stream's client (or the proxy) went away.
            }
        }
    }
}
