using System.Runtime.CompilerServices;

namespace Loadwise.AotProxy.Downstream;

/// <summary>The response body on its way to a codec client: into the connection's output, as chunks when asked.</summary>
/// <example><code>
/// var body = new ClientBodyStream(connection) { Chunked = true };
/// await body.WriteAsync(bytes, token); // one chunk, sent at once
/// </code></example>
internal sealed class ClientBodyStream(Http1ClientConnection connection) : Stream
{
    /// <summary>Gets or sets whether each write goes out as one chunk of the chunked coding.</summary>
    public bool Chunked { get; set; }

    /// <summary>
    /// Gets or sets the body bytes still to come when the length is known, else -1. The write that completes the body
    /// is not flushed: the connection flushes it after the request is recorded.
    /// </summary>
    public long Remaining { get; set; } = -1;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return;
        }

        connection.WriteBody(buffer.Span, Chunked);
        if (Remaining >= 0 && (Remaining -= buffer.Length) == 0)
        {
            return;
        }

        await connection.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("the codec writes asynchronously");

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
