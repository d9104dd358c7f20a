using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace Loadwise.AotProxy.Listener;

/// <summary>
/// The options of an event-loop connection's pipes to Kestrel, with Kestrel's socket-transport limits (at most 1 MiB read
/// ahead of the application, 64 KiB of output queued), over one memory pool: Kestrel's own (<see cref="IMemoryPoolFactory{T}"/>,
/// 4 KiB pinned blocks kept for reuse) when the host has one, as its socket transport uses.
/// </summary>
/// <example><code>
/// var pipes = new LoopPipeOptions(memoryPoolFactory.Create(new MemoryPoolOptions { Owner = "loadwise-event-loop" }));
/// var input = new Pipe(pipes.Input);
/// </code></example>
internal sealed class LoopPipeOptions(MemoryPool<byte> pool)
{
    /// <summary>Gets options over <see cref="MemoryPool{T}.Shared"/> (tests, and hosts without Kestrel's pool factory).</summary>
    public static LoopPipeOptions Shared { get; } = new(MemoryPool<byte>.Shared);

    /// <summary>Gets the pool the pipes rent their segments from.</summary>
    public MemoryPool<byte> Pool => pool;

    /// <summary>Gets the options of the pipe from the socket to Kestrel.</summary>
    public PipeOptions Input { get; } = new(pool, PipeScheduler.Inline, PipeScheduler.Inline, 1024 * 1024, 512 * 1024, useSynchronizationContext: false);

    /// <summary>Gets the options of the pipe from Kestrel to the socket.</summary>
    public PipeOptions Output { get; } = new(pool, PipeScheduler.Inline, PipeScheduler.Inline, 64 * 1024, 32 * 1024, useSynchronizationContext: false);
}
