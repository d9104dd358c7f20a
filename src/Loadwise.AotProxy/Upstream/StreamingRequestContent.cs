using System.Buffers;
using System.Net;

namespace Loadwise.AotProxy.Upstream;

/// <summary>
/// The client's request body, streamed upstream as it arrives (never buffered whole). <see cref="Sent"/> runs once the
/// whole body went out, which starts the response-headers timeout: a slow upload is timed by Kestrel's minimum data
/// rate, not counted against the backend.
/// </summary>
/// <example><code>
/// var content = new StreamingRequestContent(request.Body) { Sent = () => timeout.CancelAfter(limit) };
/// upstream.Content = content;
/// </code></example>
internal sealed class StreamingRequestContent(Stream body) : HttpContent
{
    private Task? _copy;

    /// <summary>Gets whether the handler began reading the client's body (after which the request cannot be resent).</summary>
    public bool Started => Volatile.Read(ref _copy) is not null;

    /// <summary>Gets or sets what runs once the whole body was sent.</summary>
    public Action? Sent { get; init; }

    /// <summary>Gets the copy of the body upstream (a completed task if none began), to wait for before the request ends.</summary>
    public Task Copying => Volatile.Read(ref _copy) ?? Task.CompletedTask;

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        Task copy = CopyAsync(stream, cancellationToken);
        Volatile.Write(ref _copy, copy);
        return copy;
    }

    // Unknown length: HttpClient then uses the client's Content-Length header when it was copied, chunked otherwise.
    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }

    protected override Task<Stream> CreateContentReadStreamAsync() =>
        throw new NotSupportedException("The proxied request body is a one-way stream; it is only copied upstream.");

    private async Task CopyAsync(Stream stream, CancellationToken cancellationToken)
    {
        await BodyCopy.CopyAsync(body, stream, cancellationToken).ConfigureAwait(false);
        Sent?.Invoke();
    }
}

/// <summary>Copies a body from one stream to another through one pooled buffer.</summary>
internal static class BodyCopy
{
    /// <summary>64 KiB: large enough for throughput, below the large-object-heap threshold.</summary>
    public const int BufferSize = 64 * 1024;

    /// <summary>Copies until the end of <paramref name="source"/>.</summary>
    /// <example><code>await BodyCopy.CopyAsync(request.Body, upstream, token);</code></example>
    public static async Task CopyAsync(Stream source, Stream destination, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false)) > 0)
            {
                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                // What arrived goes on at once: HttpClient's HTTP/2 request stream holds writes until a flush, and a
                // streaming caller (gRPC's bidirectional calls) waits for the answer to what it sent.
                await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Copies a backend's response body to the client, each read bounded by <paramref name="deadline"/>; gets the bytes copied.</summary>
    /// <example><code>long bytes = await BodyCopy.CopyAsync(responseBody, context.Response.Body, deadline);</code></example>
    public static async Task<long> CopyAsync(Stream source, Stream destination, ReadDeadline deadline)
    {
        long copied = 0;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while (true)
            {
                int read;
                CancellationToken token = deadline.Begin();
                try
                {
                    read = await source.ReadAsync(buffer.AsMemory(), token).ConfigureAwait(false);
                }
                catch (OperationCanceledException e)
                {
                    throw deadline.Explain(e);
                }
                finally
                {
                    deadline.End();
                }

                if (read == 0)
                {
                    return copied;
                }

                await destination.WriteAsync(buffer.AsMemory(0, read), deadline.ClientAborted).ConfigureAwait(false);
                copied += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
