using System.Buffers;
using Loadwise.AotProxy.Http;

namespace Loadwise.AotProxy.Downstream;

/// <summary>
/// The body of a request Kestrel parsed (Kestrel decodes a chunked one, and answers Expect: 100-continue when it is
/// first read): a small one of known length is read whole before the first attempt, so that a retry can send it again;
/// any other is streamed as the backend takes it.
/// </summary>
/// <example><code>
/// using KestrelRequestBody? body = await KestrelRequestBody.ReadAsync(context, 64 * 1024);
/// await forwarder.ForwardAsync(new KestrelExchange(context, body));
/// </code></example>
internal sealed class KestrelRequestBody : IDisposable
{
    private readonly HttpContext _context;
    private byte[]? _buffered;
    private int _bufferedLength;

    private KestrelRequestBody(HttpContext context) => _context = context;

    /// <summary>Gets the body's length: its Content-Length, or -1 when unknown (chunked).</summary>
    public long Length => _buffered is not null ? _bufferedLength : _context.Request.ContentLength ?? -1;

    /// <summary>Gets whether any byte of a streamed body was read.</summary>
    public bool Started { get; private set; }

    /// <summary>
    /// Takes up the body of <paramref name="context"/>'s request, or null when it has none; reads it whole when its
    /// Content-Length is at most <paramref name="maxBuffered"/>. Fails with <see cref="ClientBodyException"/>.
    /// </summary>
    public static async ValueTask<KestrelRequestBody?> ReadAsync(HttpContext context, long maxBuffered)
    {
        if (!KestrelRequest.HasBody(context))
        {
            return null;
        }

        var body = new KestrelRequestBody(context);
        if (context.Request.ContentLength is long length and > 0 && length <= maxBuffered)
        {
            body._buffered = ArrayPool<byte>.Shared.Rent((int)length);
            try
            {
                int read = 0;
                while (read < length)
                {
                    int n = await body.ReadCoreAsync(body._buffered.AsMemory(read, (int)length - read), context.RequestAborted).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw new ClientBodyException(StatusCodes.Status400BadRequest, "the request body ended before its Content-Length");
                    }

                    read += n;
                }

                body._bufferedLength = read;
            }
            catch
            {
                body.Dispose();
                throw;
            }
        }

        return body;
    }

    public bool TryGetBuffered(out ReadOnlyMemory<byte> body)
    {
        body = _buffered is null ? default : _buffered.AsMemory(0, _bufferedLength);
        return _buffered is not null;
    }

    /// <summary>Reads the next bytes of a streamed body (0 at its end).</summary>
    public ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        Started = true;
        return _buffered is not null ? new ValueTask<int>(0) : ReadCoreAsync(destination, cancellationToken);
    }

    public void Dispose()
    {
        if (_buffered is { } buffered)
        {
            _buffered = null;
            ArrayPool<byte>.Shared.Return(buffered);
        }
    }

    private async ValueTask<int> ReadCoreAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        try
        {
            return await _context.Request.Body.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e)
        {
            // Over the size limit, too slow, malformed chunks: Kestrel's status, never the backend's fault.
            throw new ClientBodyException(e.StatusCode, e.Message, e);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            throw new ClientBodyException(0, "the client's connection ended inside its body", e);
        }
    }
}
