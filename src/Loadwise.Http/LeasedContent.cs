using System.Net;
using System.Net.Http.Headers;

namespace Loadwise.Http;

/// <summary>
/// A response body that keeps its request in flight on the endpoint until the body has been read to its end, failed, or
/// been disposed: a streamed answer (server-sent events, a long download) is load for as long as it lasts, not only until
/// its headers arrive. The outcome decided from the headers is reported then; a body that breaks off is a failure.
/// </summary>
internal sealed class LeasedContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly Outcome _outcome;
    private NodeLease<HttpEndpoint> _lease;
    private int _released;

    public LeasedContent(HttpContent inner, NodeLease<HttpEndpoint> lease, Outcome outcome)
    {
        _inner = inner;
        _lease = lease;
        _outcome = outcome;
        foreach (KeyValuePair<string, HeaderStringValues> header in inner.Headers.NonValidated)
        {
            Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    /// <summary>Releases the lease once: with the headers' outcome, or <see cref="Outcome.Failure"/> when the body broke off.</summary>
    internal void Release(bool broken)
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _lease.Dispose(broken ? Outcome.Failure : _outcome);
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        try
        {
            await _inner.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
            Release(broken: false);
        }
        catch (Exception e)
        {
            // The caller giving up says nothing about the endpoint; a transport error does.
            Release(broken: e is HttpRequestException or IOException);
            throw;
        }
    }

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) =>
        new LeasedStream(_inner.ReadAsStream(cancellationToken), this);

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        new LeasedStream(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), this);

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = _inner.Headers.ContentLength ?? 0;
        return _inner.Headers.ContentLength.HasValue;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // A response disposed unread still got its answer: the headers' outcome stands.
            Release(broken: false);
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>The body as read: the end of the stream, a read error or disposal releases the lease.</summary>
    private sealed class LeasedStream(Stream inner, LeasedContent owner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            try
            {
                return Ended(inner.Read(buffer), buffer.Length);
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                owner.Release(broken: true);
                throw;
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                return Ended(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false), buffer.Length);
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                owner.Release(broken: true);
                throw;
            }
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                owner.Release(broken: false);
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        // A read of 0 bytes into a non-empty buffer is the end of the body.
        private int Ended(int read, int asked)
        {
            if (read == 0 && asked > 0)
            {
                owner.Release(broken: false);
            }

            return read;
        }
    }
}
