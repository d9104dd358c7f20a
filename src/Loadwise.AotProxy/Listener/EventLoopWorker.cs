using static Loadwise.AotProxy.Listener.LoopNative;

namespace Loadwise.AotProxy.Listener;

/// <summary>
/// One event-loop thread with its own epoll instance. Descriptors are registered once (edge-triggered) and found again
/// from each event through a slot table: the event's data is the slot and the registration's generation, so an event
/// still queued for a descriptor that was closed (and whose slot was reused) is dropped. Continuations of the loop's
/// sockets run on this thread, inline.
/// </summary>
/// <example><code>
/// using var group = new EventLoopGroup(Environment.ProcessorCount, logger);
/// LoopSocket socket = await LoopSocket.ConnectAsync(group.Next(), endPoint, token);
/// </code></example>
internal sealed unsafe class EventLoopWorker : IDisposable
{
    private const int MaxEvents = 256;
    private const int WakeSlot = int.MaxValue;

    private readonly int _epoll;
    private readonly int _wake;
    private readonly Thread _thread;
    private readonly ILogger _logger;
    private readonly Lock _tableLock = new();
    private LoopHandle?[] _table = new LoopHandle?[64];
    private readonly Stack<int> _free = new();
    private int _used;
    private int _clientConnections;
    private uint _generation;
    private volatile bool _stopping;

    [ThreadStatic]
    private static EventLoopWorker? t_current;

    public EventLoopWorker(int index, ILogger logger)
    {
        _logger = logger;
        _epoll = epoll_create1(EPOLL_CLOEXEC);
        if (_epoll < 0)
        {
            throw Failed("epoll_create1", Errno);
        }

        _wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (_wake < 0)
        {
            int errno = Errno;
            close(_epoll);
            throw Failed("eventfd", errno);
        }

        var wake = new EpollEvent { Events = EPOLLIN, Data = WakeSlot };
        epoll_ctl(_epoll, EPOLL_CTL_ADD, _wake, &wake);
        Index = index;
        _thread = new Thread(Run) { IsBackground = true, Name = $"loadwise-loop-{index}" };
        _thread.UnsafeStart();
    }

    /// <summary>Gets the worker's number in its group.</summary>
    public int Index { get; }

    /// <summary>Gets the worker whose thread is the calling one, or null off the loop.</summary>
    public static EventLoopWorker? Current => t_current;

    /// <summary>Gets the descriptors registered now.</summary>
    public int Registered
    {
        get
        {
            lock (_tableLock)
            {
                return _used;
            }
        }
    }

    /// <summary>Gets the accepted (client) connections open on this worker now: what a new one is balanced on.</summary>
    public int ClientConnections => Volatile.Read(ref _clientConnections);

    internal void ClientConnectionOpened() => Interlocked.Increment(ref _clientConnections);

    internal void ClientConnectionClosed() => Interlocked.Decrement(ref _clientConnections);

    /// <summary>Adds <paramref name="handle"/>'s descriptor to the epoll set for <paramref name="events"/>.</summary>
    public void Register(LoopHandle handle, uint events)
    {
        lock (_tableLock)
        {
            int slot;
            if (_free.Count > 0)
            {
                slot = _free.Pop();
            }
            else
            {
                slot = _used;
                if (slot == _table.Length)
                {
                    Array.Resize(ref _table, _table.Length * 2);
                }
            }

            handle.Slot = slot;
            handle.Generation = ++_generation;
            Volatile.Write(ref _table[slot], handle);
            _used++;
        }

        var registration = new EpollEvent { Events = events, Data = ((ulong)handle.Generation << 32) | (uint)handle.Slot };
        if (epoll_ctl(_epoll, EPOLL_CTL_ADD, handle.Fd, &registration) != 0)
        {
            int errno = Errno;
            Release(handle);
            throw Failed("epoll_ctl(ADD)", errno);
        }
    }

    /// <summary>Changes the events <paramref name="handle"/>'s descriptor reports (0: none for now).</summary>
    public void Modify(LoopHandle handle, uint events)
    {
        var registration = new EpollEvent { Events = events, Data = ((ulong)handle.Generation << 32) | (uint)handle.Slot };
        if (!_stopping)
        {
            epoll_ctl(_epoll, EPOLL_CTL_MOD, handle.Fd, &registration);
        }
    }

    /// <summary>Gets the logger the worker reports on.</summary>
    public ILogger Logger => _logger;

    /// <summary>Removes <paramref name="handle"/>'s descriptor (still open) from the epoll set.</summary>
    public void Unregister(LoopHandle handle)
    {
        if (!_stopping)
        {
            // Once stopped the epoll descriptor is closed (its number may be another file's by now); closing the
            // handle's descriptor is all that is left to do.
            epoll_ctl(_epoll, EPOLL_CTL_DEL, handle.Fd, null);
        }

        Release(handle);
    }

    private void Release(LoopHandle handle)
    {
        lock (_tableLock)
        {
            if (ReferenceEquals(_table[handle.Slot], handle))
            {
                Volatile.Write(ref _table[handle.Slot], null);
                _free.Push(handle.Slot);
                _used--;
            }
        }
    }

    private void Run()
    {
        t_current = this;
        EpollEvent* events = stackalloc EpollEvent[MaxEvents];
        while (!_stopping)
        {
            int count = epoll_wait(_epoll, events, MaxEvents, -1);
            if (count < 0)
            {
                int errno = Errno;
                if (errno == EINTR)
                {
                    continue;
                }

                _logger.LogCritical("event loop {Index}: epoll_wait failed with errno {Errno}; the loop stops", Index, errno);
                return;
            }

            LoopHandle?[] table = Volatile.Read(ref _table);
            for (int i = 0; i < count; i++)
            {
                ulong data = events[i].Data;
                int slot = (int)(uint)data;
                if (slot == WakeSlot)
                {
                    ulong value;
                    read(_wake, &value, sizeof(ulong));
                    continue;
                }

                LoopHandle? handle = (uint)slot < (uint)table.Length ? Volatile.Read(ref table[slot]) : null;
                if (handle is null || handle.Generation != (uint)(data >> 32))
                {
                    continue;
                }

                try
                {
                    handle.OnEvents(events[i].Events);
                }
                catch (Exception e)
                {
                    // Continuations keep their exceptions in their own tasks; this is a bug in a handler, and the loop
                    // must go on serving the other descriptors.
                    _logger.LogError(e, "event loop {Index}: an event handler failed", Index);
                }
            }
        }
    }

    /// <summary>Stops the thread (descriptors still registered are the owners' to close) and closes the epoll instance.</summary>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        ulong one = 1;
        write(_wake, &one, sizeof(ulong));
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }

        close(_wake);
        close(_epoll);
    }
}

/// <summary>The event-loop workers of one proxy, one per core by default; new descriptors are spread over them in turn.</summary>
internal sealed class EventLoopGroup : IDisposable
{
    private readonly EventLoopWorker[] _workers;
    private int _next;

    public EventLoopGroup(int workers, ILogger logger)
    {
        _workers = new EventLoopWorker[Math.Max(1, workers)];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new EventLoopWorker(i, logger);
        }
    }

    /// <summary>Gets the workers.</summary>
    public IReadOnlyList<EventLoopWorker> Workers => _workers;

    /// <summary>Gets the calling thread's worker when it is one of this group's, else the next in turn.</summary>
    public EventLoopWorker CurrentOrNext() => EventLoopWorker.Current is { } current && Array.IndexOf(_workers, current) >= 0 ? current : Next();

    /// <summary>
    /// Gets the worker with the fewest client connections, <paramref name="preferred"/> on a tie (it accepted the
    /// connection, so its caches are warm). The kernel's SO_REUSEPORT hash splits connections unevenly (64 of them
    /// over 2 workers came out 29 and 35), and a worker with more connections than its share queues their requests
    /// behind each other while the other idles: that is a tail latency no single request explains.
    /// </summary>
    public EventLoopWorker FewestClientConnections(EventLoopWorker preferred)
    {
        EventLoopWorker fewest = preferred;
        int least = preferred.ClientConnections;
        foreach (EventLoopWorker worker in _workers)
        {
            int connections = worker.ClientConnections;
            if (connections < least)
            {
                fewest = worker;
                least = connections;
            }
        }

        return fewest;
    }

    /// <summary>Gets the next worker in turn.</summary>
    public EventLoopWorker Next() => _workers[(int)((uint)Interlocked.Increment(ref _next) % (uint)_workers.Length)];

    public void Dispose()
    {
        foreach (EventLoopWorker worker in _workers)
        {
            worker.Dispose();
        }
    }
}
