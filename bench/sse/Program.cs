using System.Globalization;
using Loadwise.Bench.EventStream;

// bench/sse/run.sh drives both modes; by hand:
//   dotnet run -c Release --project bench/sse -- backend 9090 100
//   dotnet run -c Release --project bench/sse -- clients http://127.0.0.1:9090/events 100 10
if (args.Length >= 1 && args[0] == "backend" && args.Length == 3
    && int.TryParse(args[1], CultureInfo.InvariantCulture, out int port)
    && int.TryParse(args[2], CultureInfo.InvariantCulture, out int intervalMs) && intervalMs > 0)
{
    using var stop = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
    AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
    await EventBackend.RunAsync(port, TimeSpan.FromMilliseconds(intervalMs), stop.Token);
    return 0;
}

if (args.Length >= 1 && args[0] == "clients" && args.Length == 4
    && Uri.TryCreate(args[1], UriKind.Absolute, out Uri? url) && url.Scheme == "http"
    && int.TryParse(args[2], CultureInfo.InvariantCulture, out int streams) && streams > 0
    && int.TryParse(args[3], CultureInfo.InvariantCulture, out int seconds) && seconds > 0)
{
    DelayReport report = await EventClients.RunAsync(url, streams, TimeSpan.FromSeconds(seconds));
    // One line for the script: events, streams that failed, then p50, p99, p99.9 and max delay in milliseconds.
    Console.WriteLine(report.ToLine());
    return report.Events > 0 && report.FailedStreams == 0 ? 0 : 1;
}

Console.Error.WriteLine("""
    usage:
      Loadwise.Bench.EventStream backend <port> <interval-ms>
          serves GET /events as server-sent events, one per interval per stream; any other path answers 200 "ok"
      Loadwise.Bench.EventStream clients <http-url> <streams> <seconds>
          opens <streams> event streams on <http-url> and prints: events failed-streams p50 p99 p99.9 max (ms)
    """);
return 2;
