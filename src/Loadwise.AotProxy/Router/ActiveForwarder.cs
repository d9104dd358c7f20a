namespace Loadwise.AotProxy.Router;

/// <summary>
/// The forwarder of the configuration in force. Both front ends read <see cref="Current"/> once per request, so a reload
/// that installs a new forwarder (<see cref="Install"/>) is seen by the next request at once, while requests already
/// under way finish on the forwarder they started on. A replaced forwarder counts as in flight until it is retired.
/// </summary>
/// <example><code>
/// var active = new ActiveForwarder(first);
/// Forwarder replaced = active.Install(next);   // on reload
/// // ... once replaced.InFlight is 0:
/// active.Retire(replaced);
/// </code></example>
internal sealed class ActiveForwarder(Forwarder first)
{
    private readonly Lock _gate = new();
    private Forwarder _current = first;
    private Forwarder[] _replaced = [];
    private long _retiredPanicPicks;

    /// <summary>Gets the forwarder new requests go to.</summary>
    public Forwarder Current => Volatile.Read(ref _current);

    /// <summary>
    /// Gets the forwarder of the configuration in force, held for one request: it will not retire until
    /// <see cref="Forwarder.Release"/>. Without the hold a reload could retire it between this read and the request's
    /// start (a small body is read whole in between).
    /// </summary>
    public Forwarder Acquire()
    {
        while (true)
        {
            Forwarder forwarder = Current;
            forwarder.Hold();
            // Held before the check: a reload that installed another one since sees the hold and waits for it.
            if (ReferenceEquals(forwarder, Current))
            {
                return forwarder;
            }

            forwarder.Release();
        }
    }

    /// <summary>Gets the requests in flight on every forwarder not yet retired (each request counted once, by its forwarder).</summary>
    public long InFlight
    {
        get
        {
            long total = Current.InFlight;
            foreach (Forwarder replaced in Volatile.Read(ref _replaced))
            {
                total += replaced.InFlight;
            }

            return total;
        }
    }

    /// <summary>Gets the picks made in health panic since start, over every forwarder (a counter never goes back on reload).</summary>
    public long PanicPicks
    {
        get
        {
            long total = Volatile.Read(ref _retiredPanicPicks) + Current.PanicPicks;
            foreach (Forwarder replaced in Volatile.Read(ref _replaced))
            {
                total += replaced.PanicPicks;
            }

            return total;
        }
    }

    /// <summary>Makes <paramref name="next"/> the forwarder of new requests; returns the one it replaced (still draining).</summary>
    public Forwarder Install(Forwarder next)
    {
        lock (_gate)
        {
            Forwarder previous = _current;
            Volatile.Write(ref _replaced, [.. _replaced, previous]);
            Volatile.Write(ref _current, next);
            return previous;
        }
    }

    /// <summary>Forgets a replaced forwarder whose requests have finished (its counts move to the totals).</summary>
    public void Retire(Forwarder replaced)
    {
        lock (_gate)
        {
            Interlocked.Add(ref _retiredPanicPicks, replaced.PanicPicks);
            Volatile.Write(ref _replaced, Array.FindAll(_replaced, f => !ReferenceEquals(f, replaced)));
        }
    }
}
