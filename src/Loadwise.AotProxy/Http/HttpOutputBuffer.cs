using System.Buffers;
using System.Runtime.CompilerServices;

namespace Loadwise.AotProxy.Http;

/// <summary>
/// HTTP/1.1 bytes on their way out, in a pooled byte buffer that grows as needed: a request head upstream, and on the
/// fast path a whole response (head and body) until it is sent. Dispose returns the buffer; the next write rents again.
/// </summary>
internal struct HttpOutputBuffer : IDisposable
{
    /// <summary>The smallest buffer rented: a response head and a small body fit without growing.</summary>
    private const int MinimumCapacity = 2048;

    private static readonly System.Text.Encoding StrictLatin1 = System.Text.Encoding.GetEncoding("iso-8859-1", System.Text.EncoderFallback.ExceptionFallback, System.Text.DecoderFallback.ExceptionFallback);

    private byte[] _buffer;
    private int _length;
    private bool _rented;

    /// <summary>Starts with a pooled buffer of at least <paramref name="capacity"/> bytes.</summary>
    public HttpOutputBuffer(int capacity)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(capacity, MinimumCapacity));
        _length = 0;
        _rented = true;
    }

    /// <summary>
    /// Writes into <paramref name="borrowed"/>, which stays the caller's: only what outgrows it is rented (and given
    /// back by <see cref="Dispose"/>).
    /// </summary>
    public HttpOutputBuffer(byte[] borrowed)
    {
        _buffer = borrowed;
        _length = 0;
        _rented = false;
    }

    /// <summary>Continues with a buffer rented from <see cref="ArrayPool{T}.Shared"/> that <see cref="DetachRented"/> gave out, empty.</summary>
    public static HttpOutputBuffer FromRented(byte[] rented) => new(rented) { _rented = true };

    /// <summary>Gets the bytes written so far.</summary>
    public readonly ReadOnlyMemory<byte> Written => _buffer is null ? default : _buffer.AsMemory(0, _length);

    /// <summary>Gets the number of bytes written so far.</summary>
    public readonly int Length => _length;

    /// <summary>Forgets what was written (after it was sent), keeping the buffer.</summary>
    public void Clear() => _length = 0;

    /// <summary>Gets room for at least <paramref name="sizeHint"/> bytes after those written; <see cref="Advance"/> commits them.</summary>
    public Span<byte> GetSpan(int sizeHint)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_length);
    }

    /// <summary>Commits <paramref name="count"/> bytes written into the span from <see cref="GetSpan"/>.</summary>
    public void Advance(int count) => _length += count;

    /// <summary>
    /// Appends text as Latin-1, one byte per character. A character above U+00FF throws rather than being replaced by
    /// a look-alike (a best-fit mapping would turn U+FF1D into '=' on its way upstream).
    /// </summary>
    public void Append(string text)
    {
        Ensure(text.Length);
        _length += StrictLatin1.GetBytes(text, _buffer.AsSpan(_length));
    }

    /// <summary>Appends ASCII bytes such as <c>": "</c> or CRLF.</summary>
    public void Append(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    /// <summary>Appends a number in decimal.</summary>
    public void Append(long value)
    {
        Ensure(20);
        System.Buffers.Text.Utf8Formatter.TryFormat(value, _buffer.AsSpan(_length), out int written);
        _length += written;
    }

    /// <summary>Appends one header line from bytes read off the wire: <c>name: value</c> and CRLF, with one capacity check.</summary>
    public void AppendField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        Ensure(name.Length + value.Length + 4);
        Span<byte> line = _buffer.AsSpan(_length);
        name.CopyTo(line);
        line[name.Length] = (byte)':';
        line[name.Length + 1] = (byte)' ';
        value.CopyTo(line[(name.Length + 2)..]);
        line[name.Length + 2 + value.Length] = (byte)'\r';
        line[name.Length + 3 + value.Length] = (byte)'\n';
        _length += name.Length + value.Length + 4;
    }

    /// <summary>Appends one header line.</summary>
    public void AppendHeader(string name, string value)
    {
        Append(name);
        Append(": "u8);
        Append(value);
        Append("\r\n"u8);
    }

    /// <summary>
    /// Hands over the rented buffer (null when there is none), to be resumed with <see cref="FromRented"/> or given back
    /// to the pool by the new owner; this writer is left empty, as after <see cref="Dispose"/>.
    /// </summary>
    public byte[]? DetachRented()
    {
        byte[]? rented = _rented ? _buffer : null;
        _buffer = [];
        _length = 0;
        _rented = false;
        return rented;
    }

    public void Dispose()
    {
        if (_rented)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = [];
        _length = 0;
        _rented = false;
    }

    /// <summary>Makes room for <paramref name="count"/> more bytes: inlined for the usual case, where there is room already.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Ensure(int count)
    {
        if (_buffer is null || _buffer.Length - _length < count)
        {
            Grow(count);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(int count)
    {
        _buffer ??= [];
        byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(Math.Max(_buffer.Length * 2, _length + count), MinimumCapacity));
        _buffer.AsSpan(0, _length).CopyTo(larger);
        if (_rented)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = larger;
        _rented = true;
    }
}
