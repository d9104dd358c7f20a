namespace Loadwise.AotProxy.Listener;

/// <summary>A descriptor registered with one <see cref="EventLoopWorker"/>'s epoll: what the loop calls on its events.</summary>
internal abstract class LoopHandle
{
    /// <summary>Gets the descriptor.</summary>
    public int Fd { get; protected init; }

    /// <summary>Gets the worker whose epoll holds the descriptor.</summary>
    public EventLoopWorker Worker { get; protected init; } = null!;

    /// <summary>Gets or sets the handle's slot in its worker's table (the low half of its epoll data).</summary>
    internal int Slot { get; set; }

    /// <summary>Gets or sets the handle's generation (the high half of its epoll data): a stale event for a reused slot is dropped.</summary>
    internal uint Generation { get; set; }

    /// <summary>Handles the events epoll reported for the descriptor, on the worker's thread.</summary>
    public abstract void OnEvents(uint events);
}
