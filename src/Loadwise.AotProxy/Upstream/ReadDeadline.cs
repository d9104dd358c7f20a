using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.Upstream;

/// <summary>
/// The idle timeout of a response body's reads (nginx's proxy_read_timeout, HAProxy's timeout server): each read that
/// waits for the backend gets a token that fires once it has waited <c>Timeouts:ResponseBodyIdleMs</c>, or when the
/// client goes away. Without it a backend that stops mid-body would hold its connection and the client's for good.
/// One timer for the whole body, armed at the first read (<see cref="AttemptTimeout"/>), none for a body that came
/// with its head.
/// </summary>
/// <example><code>
/// using var deadline = new ReadDeadline(clientAborted, TimeSpan.FromSeconds(60), clock);
/// CancellationToken token = deadline.Begin();
/// try { read = await socket.ReceiveAsync(buffer, token); } finally { deadline.End(); }
/// </code></example>
internal sealed class ReadDeadline(CancellationToken clientAborted, TimeSpan idleTimeout, ProxyClock clock) : IDisposable
{
    private AttemptTimeout? _timeout;

    /// <summary>Gets the token that fires when the client goes away (for writes to it).</summary>
    public CancellationToken ClientAborted => clientAborted;

    /// <summary>Gets the idle timeout (zero: none).</summary>
    public TimeSpan IdleTimeout => idleTimeout;

    /// <summary>Starts one read: its token fires after the idle timeout or when the client goes away.</summary>
    public CancellationToken Begin() => idleTimeout <= TimeSpan.Zero
        ? clientAborted
        : (_timeout ??= new AttemptTimeout(clientAborted, idleTimeout, clock)).Begin(clock.NowMilliseconds);

    /// <summary>Ends the read <see cref="Begin"/> started.</summary>
    public void End() => _timeout?.End();

    /// <summary>Turns a cancelled read into what it means: the backend was idle too long, unless the client left.</summary>
    public Exception Explain(OperationCanceledException cancelled) => clientAborted.IsCancellationRequested
        ? cancelled
        : new UpstreamException(UpstreamError.Body, $"backend sent no body bytes for {idleTimeout.TotalMilliseconds:0} ms (Timeouts:ResponseBodyIdleMs)", cancelled);

    public void Dispose() => _timeout?.Dispose();
}
