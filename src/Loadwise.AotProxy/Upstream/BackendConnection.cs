using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Listener;
using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.Upstream;

/// <summary>
/// One keep-alive HTTP/1.1 connection to a backend and its receive buffer. The buffer holds the bytes received but
/// not yet consumed (between <see cref="Start"/> and <see cref="End"/>), so a response head, chunk lines and body bytes
/// are parsed in place, without copies or strings beyond the header values themselves.
/// </summary>
internal sealed class BackendConnection : IDisposable
{
    /// <summary>16 KiB: the largest response head accepted (nginx's default proxy buffer is 4-8 KiB).</summary>
    public const int BufferSize = 16 * 1024;

    /// <summary>A connection on the runtime's sockets.</summary>
    public BackendConnection(Socket socket)
    {
        _socket = new ConnectionSocket(socket);
        Buffer = GC.AllocateUninitializedArray<byte>(BufferSize);
    }

    /// <summary>A connection on the proxy's event loop (its receives complete on the loop thread that owns it).</summary>
    public BackendConnection(LoopSocket socket)
    {
        _socket = new ConnectionSocket(socket);
        Buffer = GC.AllocateUninitializedArray<byte>(BufferSize);
    }

    private readonly ConnectionSocket _socket;

    public byte[] Buffer { get; }

    /// <summary>Gets the head of the response being read (reused across exchanges).</summary>
    public ResponseHead Head { get; } = new();

    /// <summary>Gets or sets the first unconsumed byte in <see cref="Buffer"/>.</summary>
    public int Start { get; set; }

    /// <summary>Gets the end of the received bytes in <see cref="Buffer"/>.</summary>
    public int End { get; private set; }

    /// <summary>Gets the unconsumed bytes.</summary>
    public ReadOnlySpan<byte> Available => Buffer.AsSpan(Start, End - Start);

    /// <summary>
    /// Gets or sets when the connection went back to its pool (<see cref="ProxyClock"/> milliseconds): the start of the
    /// attempt that returned it, which overstates the idle time by that attempt's length, so a connection is never
    /// kept past the idle timeout, and no clock is read to return it.
    /// </summary>
    public long IdleSince { get; set; }

    /// <summary>
    /// Gets the event-thread slot (<see cref="ConnectionPool.CurrentSlot"/>) this connection's receives complete
    /// on, learnt from its last receive that had to wait; -1 until then.
    /// </summary>
    public int HomeSlot { get; set; } = -1;

    /// <summary>Gets the bytes received from the backend over the current exchange.</summary>
    public long Received { get; private set; }

    /// <summary>
    /// Gets whether the connection may carry another exchange once this one ends cleanly: false after any framing
    /// anomaly (<see cref="MarkNotReusable"/>), until the next <see cref="BeginExchange"/> on a new connection.
    /// </summary>
    public bool Reusable { get; private set; } = true;

    /// <summary>Forgets the consumed bytes, so the next exchange fills the buffer from its start.</summary>
    public void Clear() => Start = End = 0;

    /// <summary>Gets or sets the interim (1xx) responses read in the current exchange.</summary>
    public int InterimResponses { get; set; }

    /// <summary>Starts a new exchange: nothing received yet.</summary>
    public void BeginExchange()
    {
        Received = 0;
        InterimResponses = 0;
    }

    /// <summary>Marks the connection as not to be reused: it carried something odd, so its next bytes cannot be trusted.</summary>
    public void MarkNotReusable() => Reusable = false;

    /// <summary>Returns true when the idle connection has bytes waiting, or ended: it must not carry another request.</summary>
    public bool HasInputOrEnded() => _socket.HasInputOrEnded();

    /// <summary>
    /// Returns whether an upload in progress should go on: while the backend sent nothing, or interim answers and then
    /// the start of a successful one (a streaming backend, such as an echo, answers early and reads on); not once it
    /// closed or began any other answer, which refuses the body (RFC 9112 section 9.5: cease transmitting the body).
    /// <paramref name="answered"/> says whether any answer byte came: the connection then ran ahead of the request and
    /// is not reused, whatever the backend does with the rest of the body.
    /// </summary>
    public bool TakesMoreBody(out bool answered)
    {
        Span<byte> peeked = stackalloc byte[512];
        int seen = _socket.Peek(peeked);
        answered = seen != 0;
        if (seen < 0)
        {
            return false;
        }

        ReadOnlySpan<byte> rest = peeked[..seen];
        while (true)
        {
            // "HTTP/1.1 2": the status's first digit is the tenth byte; fewer bytes so far cannot refuse yet.
            if (rest.Length < 10)
            {
                return true;
            }

            if (!rest.StartsWith("HTTP/1."u8) || rest[9] is not ((byte)'1' or (byte)'2'))
            {
                return false;
            }

            if (rest[9] == (byte)'2')
            {
                return true;
            }

            // An interim answer (100, 103): the final one after it decides; until it is in view, go on.
            int end = rest.IndexOf("\r\n\r\n"u8);
            if (end < 0)
            {
                return true;
            }

            rest = rest[(end + 4)..];
        }
    }

    /// <summary>
    /// Receives more bytes after the unconsumed ones, moving those to the front first when the buffer's tail is full.
    /// Returns false at the end of the stream, or when the buffer is full of unconsumed bytes.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> FillAsync(CancellationToken cancellationToken) =>
        TryFillNow(out bool more, out ValueTask<int> pending, cancellationToken) ? more : Filled(await pending.ConfigureAwait(false));

    /// <summary>
    /// <see cref="FillAsync"/> without its own async state machine, for the response-head reader that runs on every
    /// request: true when the fill is over now, <paramref name="more"/> as FillAsync would return it; false when the
    /// receive waits, and the caller awaits <paramref name="pending"/> and passes its count to <see cref="Filled"/>.
    /// </summary>
    public bool TryFillNow(out bool more, out ValueTask<int> pending, CancellationToken cancellationToken)
    {
        pending = default;
        if (!TryMakeRoom())
        {
            more = false;
            return true;
        }

        ValueTask<int> receive = _socket.ReceiveAsync(Buffer.AsMemory(End), cancellationToken);
        if (receive.IsCompletedSuccessfully)
        {
            more = TakeIn(receive.Result);
            return true;
        }

        more = false;
        pending = receive;
        return false;
    }

    /// <summary>
    /// Takes in the count of a receive from <see cref="TryFillNow"/> that had to wait; false at the end of the stream.
    /// With inline socket completions the caller then runs on the event thread that owns the socket, its home.
    /// </summary>
    public bool Filled(int read)
    {
        HomeSlot = ConnectionPool.CurrentSlot();
        return TakeIn(read);
    }

    /// <summary>Makes room after the unconsumed bytes; false when they fill the buffer.</summary>
    private bool TryMakeRoom()
    {
        if (Start == End)
        {
            Clear();
        }
        else if (End == Buffer.Length)
        {
            if (Start == 0)
            {
                return false;
            }

            Buffer.AsSpan(Start, End - Start).CopyTo(Buffer);
            End -= Start;
            Start = 0;
        }

        return true;
    }

    private bool TakeIn(int read)
    {
        End += read;
        Received += read;
        return read > 0;
    }

    /// <summary>Sends all of <paramref name="data"/> to the backend; completes at once when the kernel took it all.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => _socket.SendAsync(data, cancellationToken);

    /// <summary>Sends a request head and a body held elsewhere, in one gather send when the kernel takes both.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> head, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) => _socket.SendAsync(head, body, cancellationToken);

    public void Dispose() => _socket.Dispose();
}
