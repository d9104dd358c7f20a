using System.Buffers;
using System.Net;

namespace Loadwise.AotProxy.Upstream;

/// <summary>The client's request body, streamed upstream as it arrives (never buffered whole).</summary>
internal sealed class StreamingRequestContent(Stream body) : HttpContent
{
    private int _started;

    /// <summary>Gets whether the handler began reading the client's body (after which the request cannot be resent).</summary>
    public bool Started => Volatile.Read(ref _started) != 0;

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        Volatile.Write(ref _started, 1);
        return BodyCopy.CopyAsync(body, stream, CancellationToken.None);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _started, 1);
        return BodyCopy.CopyAsync(body, stream, cancellationToken);
    }

    // Unknown length: HttpClient then uses the client's Content-Length header when it was copied, chunked otherwise.
    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }

    protected override Task<Stream> CreateContentReadStreamAsync() =>
        throw new NotSupportedException("The proxied request body is a one-way stream; it is only copied upstream.");
}

/// <summary>Copies a body from one stream to another through one pooled buffer.</summary>
internal static class BodyCopy
{
    /// <summary>64 KiB: large enough for throughput, below the large-object-heap threshold.</summary>
    public const int BufferSize = 64 * 1024;

    public static async Task CopyAsync(Stream source, Stream destination, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false)) > 0)
            {
                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
