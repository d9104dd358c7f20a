using System.Collections.Concurrent;

namespace Loadwise.Soak;

/// <summary>Everything the soak counts, shared by the clients and the in-process backends.</summary>
internal sealed class Stats
{
    private const int MaxDetails = 40;

    private long _completed;

    public Stats(string run) => Run = run;

    /// <summary>Gets the run's id prefix part (random per run).</summary>
    public string Run { get; }

    public string IdPrefix => Protocol.IdPrefix(Run);

    public long Completed => Interlocked.Read(ref _completed);

    /// <summary>Gets requests by method.</summary>
    public ConcurrentDictionary<string, long> Methods { get; } = new();

    /// <summary>Gets client-visible outcomes: a status code, or an error kind.</summary>
    public ConcurrentDictionary<string, long> Outcomes { get; } = new();

    /// <summary>Gets outcomes by method: "method|outcome".</summary>
    public ConcurrentDictionary<string, long> OutcomeByMethod { get; } = new();

    /// <summary>Gets outcomes by the backend (and raw-backend behaviour) that handled the request last: "handler|method|outcome".</summary>
    public ConcurrentDictionary<string, long> OutcomeByHandler { get; } = new();

    /// <summary>Gets responses that reached a client they do not belong to, by how the foreign data got there.</summary>
    public ConcurrentDictionary<string, long> WrongClient { get; } = new();

    /// <summary>Gets other checks that failed (a 200 without its echo, a body checksum mismatch, bytes after a response...).</summary>
    public ConcurrentDictionary<string, long> Anomalies { get; } = new();

    public ConcurrentQueue<string> WrongClientDetails { get; } = new();

    public ConcurrentQueue<string> AnomalyDetails { get; } = new();

    /// <summary>Gets which in-process backends saw each request still in flight: id to "be-a" or "raw:kind>be-b" (retries).</summary>
    public ConcurrentDictionary<string, string> Handlers { get; } = new();

    /// <summary>Gets the raw backend's responses by behaviour.</summary>
    public ConcurrentDictionary<string, long> RawSent { get; } = new();

    /// <summary>Gets requests the proxy sent on a raw-backend connection whose previous response carried stray bytes, by that response's behaviour.</summary>
    public ConcurrentDictionary<string, long> RawReusedAfterStray { get; } = new();

    /// <summary>Gets, for a request that arrived on a connection after stray bytes, what preceded it (looked up when a check fails).</summary>
    public ConcurrentDictionary<string, AfterStray> ArrivedAfterStray { get; } = new();

    /// <summary>Gets what the raw backend had written on the connection before each wrong-client delivery.</summary>
    public ConcurrentDictionary<string, long> WrongClientCauses { get; } = new();

    /// <summary>Gets, for those deliveries, how long after the stray bytes the request reached the backend (ms).</summary>
    public ConcurrentBag<double> WrongClientGapsMs { get; } = [];

    public ConcurrentDictionary<string, long> Events { get; } = new();

    public static void Add(ConcurrentDictionary<string, long> counters, string key, long by = 1) => counters.AddOrUpdate(key, by, (_, v) => v + by);

    public void Seen(string id, string handler)
    {
        if (id.Length > 0)
        {
            Handlers.AddOrUpdate(id, handler, (_, before) => before + ">" + handler);
        }
    }

    public void Complete(string method, string outcome, string handler)
    {
        Interlocked.Increment(ref _completed);
        Add(Methods, method);
        Add(Outcomes, outcome);
        Add(OutcomeByHandler, handler + "|" + method + "|" + outcome);
        Add(OutcomeByMethod, method + "|" + outcome);
    }

    public void Detail(ConcurrentQueue<string> queue, string text)
    {
        if (queue.Count < MaxDetails)
        {
            queue.Enqueue(text);
        }
    }

    public static long Sum(ConcurrentDictionary<string, long> counters) => counters.Values.Sum();
}

/// <summary>What the raw backend had written on a connection before a request arrived on it.</summary>
/// <param name="Text">One line for the report.</param>
/// <param name="Cause">The behaviour, the method it answered and when the stray went out.</param>
/// <param name="GapMs">How long after the stray bytes the request arrived (null: it arrived before them).</param>
internal sealed record AfterStray(string Text, string Cause, double? GapMs);
