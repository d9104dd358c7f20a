using System.Net;
using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.Downstream;

/// <summary>
/// The codec's exchange: a struct over its connection, so that the router's and the attempts' generic code is
/// compiled for it (direct, inlinable calls), as it is for <see cref="KestrelExchange"/>, rather than run as code
/// shared by all classes, where each member is an interface call.
/// </summary>
/// <example><code>await forwarder.ForwardAsync(new Http1ClientExchange(connection));</code></example>
internal readonly struct Http1ClientExchange(Http1ClientConnection connection) : IClientExchange
{
    public string Method => connection.Method;

    public bool HasBody => connection.BodyLength != 0;

    public long BodyLength => connection.BodyLength;

    public bool BodyStarted => connection.BodyStarted;

    public HttpContext? Context => null;

    public CancellationToken ClientAborted => connection.ClientAborted;

    public bool ClientGone => connection.ClientGone;

    public IPAddress? Peer => connection.Peer;

    public ReadOnlySpan<char> Path => connection.Path;

    public ReadOnlySpan<char> Query => connection.Query;

    public Stream ResponseBody => connection.ResponseBody;

    public ReadOnlySpan<char> Header(string name) => connection.Header(name);

    public AttemptCancellation BeginAttempt(TimeSpan timeout, long now, ProxyClock clock) => new(connection.BeginAttempt(timeout, now), null);

    public void EndAttempt(AttemptCancellation attempt) => connection.EndAttempt();

    public void WriteRequestHead(ref HttpOutputBuffer writer, in UpstreamTarget target) => connection.WriteRequestHead(ref writer, in target);

    public bool TryGetBufferedBody(out ReadOnlyMemory<byte> body) => connection.TryGetBufferedBody(out body);

    public ValueTask<int> ReadBodyAsync(Memory<byte> destination, CancellationToken cancellationToken) => connection.ReadBodyAsync(destination, cancellationToken);

    public void BeginResponse(ResponseHead head, ReadOnlySpan<byte> headBytes) => connection.BeginResponse(head, headBytes);

    public void EndResponse() => connection.EndResponse();

    public ValueTask WriteErrorAsync(int status, string text, int retryAfterSeconds = -1) => connection.WriteErrorAsync(status, text, retryAfterSeconds);

    public bool TryDiscardResponse() => connection.TryDiscardResponse();

    public void Abort() => connection.Abort();
}
