using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Loadwise.AotProxy.Listener;

/// <summary>
/// A client connection accepted by the event loop, as Kestrel sees it. Until something asks for <see cref="Transport"/>
/// no pipe exists: the fast path reads the socket through <see cref="DirectInput"/> and sends on <see cref="Socket"/>
/// itself. The first read of <see cref="Transport"/> (Kestrel's HTTP layer, after the fast path handed the connection
/// over) starts two pumps on the loop, socket to input pipe and output pipe to socket, as Kestrel's socket transport
/// runs; the input pump first replays the bytes the fast path read but did not consume.
/// </summary>
/// <example><code>
/// if (context.Features.Get&lt;LoopConnection&gt;() is { } loop)
/// {
///     ReadResult result = await loop.DirectInput.ReadAsync();   // straight from the socket
///     await loop.Socket.SendAsync(response, token);
/// }
/// </code></example>
internal sealed class LoopConnection : ConnectionContext, IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IConnectionEndPointFeature, IConnectionLifetimeFeature, IDirectConnectionFeature, IMemoryPoolFeature
{
    private static long s_ids;

    private readonly LoopPipeOptions _pipes;
    private readonly CancellationTokenSource _closed = new();
    private readonly Lock _pumpLock = new();
    private IDuplexPipe? _transport;
    private Pipe? _input;
    private Pipe? _output;
    private Task _receiving = Task.CompletedTask;
    private Task _sending = Task.CompletedTask;
    private ConnectionAbortedException? _abortReason;
    private string? _id;
    private IDictionary<object, object?>? _items;
    private int _closedFired;

    /// <summary>Gets the pool this connection's pipes, and Kestrel's buffers for it, rent from.</summary>
    public MemoryPool<byte> MemoryPool => _pipes.Pool;

    public LoopConnection(LoopSocket socket, EndPoint? localEndPoint, bool releaseInputWhileWaiting, LoopPipeOptions? pipes = null)
    {
        _pipes = pipes ?? LoopPipeOptions.Shared;
        Socket = socket;
        LocalEndPoint = localEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        DirectInput = new LoopInput(socket, releaseInputWhileWaiting);
        Features = new FeatureCollection();
        Features.Set<IConnectionIdFeature>(this);
        Features.Set<IConnectionTransportFeature>(this);
        Features.Set<IConnectionItemsFeature>(this);
        Features.Set<IConnectionEndPointFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
        Features.Set(this);
        Features.Set<IDirectConnectionFeature>(this);
        // Kestrel rents its own buffers (a chunked body's pipe) from the connection's pool; without one it takes the
        // shared array pool, whose blocks rented on one thread and returned on another end up allocated anew.
        Features.Set<IMemoryPoolFeature>(this);
        socket.OnBroken(static state => ((LoopConnection)state!).FireClosed(), this);
    }

    /// <summary>Gets the connection's socket on the loop.</summary>
    public LoopSocket Socket { get; }

    /// <summary>Gets a reader straight over the socket, for the HTTP/1.1 codec; unused once <see cref="Transport"/> was asked for.</summary>
    public LoopInput DirectInput { get; }

    PipeReader IDirectConnectionFeature.Input => DirectInput;

    ConnectionSocket IDirectConnectionFeature.Socket => new(Socket);

    /// <summary>Gets whether the pumps run (the connection is Kestrel's HTTP layer's).</summary>
    public bool Pumping => _input is not null;

    public override string ConnectionId
    {
        get => _id ??= "L" + Interlocked.Increment(ref s_ids).ToString("X8", System.Globalization.CultureInfo.InvariantCulture);
        set => _id = value;
    }

    public override IFeatureCollection Features { get; }

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new Dictionary<object, object?>();
        set => _items = value;
    }

    public override IDuplexPipe Transport
    {
        get => _transport ?? StartPumps();
        set => _transport = value;
    }

    public override CancellationToken ConnectionClosed
    {
        get => _closed.Token;
        set => throw new NotSupportedException("the loop's connection-closed token is its own");
    }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _abortReason ??= abortReason;
        Socket.Abort();
        // As Kestrel's socket transport: the send pump stops at once instead of sending what is queued.
        _output?.Reader.CancelPendingRead();
    }

    public override async ValueTask DisposeAsync()
    {
        if (_input is not null)
        {
            // The pumps' own pipes (Transport may have been replaced by a middleware since).
            _input.Reader.Complete();
            _output!.Writer.Complete();
            await _sending.ConfigureAwait(false);
            await _receiving.ConfigureAwait(false);
        }

        DirectInput.Release();
        Socket.Dispose();
        FireClosed();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private IDuplexPipe StartPumps()
    {
        lock (_pumpLock)
        {
            if (_transport is null)
            {
                _input = new Pipe(_pipes.Input);
                _output = new Pipe(_pipes.Output);
                _transport = new DuplexPipe(_input.Reader, _output.Writer);
                byte[]? replay = DirectInput.TakeUnconsumed();
                _receiving = ReceiveAsync(_input.Writer, replay);
                _sending = SendAsync(_output.Reader);
            }

            return _transport;
        }
    }

    private async Task ReceiveAsync(PipeWriter writer, byte[]? replay)
    {
        // Off the caller's thread: the first fill may complete Kestrel's pending read inline.
        await Task.Yield();
        Exception? error = null;
        try
        {
            if (replay is not null)
            {
                writer.Write(replay);
                FlushResult replayed = await writer.FlushAsync().ConfigureAwait(false);
                if (replayed.IsCompleted || replayed.IsCanceled)
                {
                    return;
                }
            }

            while (true)
            {
                Memory<byte> memory = writer.GetMemory(2048);
                int read = await Socket.ReceiveAsync(memory, CancellationToken.None).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                writer.Advance(read);
                FlushResult flushed = await writer.FlushAsync().ConfigureAwait(false);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (SocketException e)
        {
            error = new ConnectionResetException(e.Message, e);
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            await writer.CompleteAsync(_abortReason ?? error).ConfigureAwait(false);
            if (error is not null || _abortReason is not null)
            {
                // A broken connection aborts what runs on it. A clean end of stream only ends the input: a client that
                // half-closed after its request still gets the answer (Kestrel's own transport would abort it).
                FireClosed();
            }
        }
    }

    private async Task SendAsync(PipeReader reader)
    {
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    break;
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                foreach (ReadOnlyMemory<byte> segment in buffer)
                {
                    await Socket.SendAsync(segment, CancellationToken.None).ConfigureAwait(false);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            await reader.CompleteAsync(error).ConfigureAwait(false);
            // Both ways, as Kestrel's transport: the peer reads the end after what was sent, and the receive pump ends.
            Socket.Abort();
        }
    }

    private void FireClosed()
    {
        if (Interlocked.Exchange(ref _closedFired, 1) == 0)
        {
            // Off the loop: the token's callbacks (request aborts, linked attempt tokens) are not the loop's to run.
            ThreadPool.UnsafeQueueUserWorkItem(static state => ((LoopConnection)state!).CancelClosed(), this, preferLocal: false);
        }
    }

    private void CancelClosed()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;

        public PipeWriter Output => output;
    }
}
