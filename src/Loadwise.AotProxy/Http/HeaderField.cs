namespace Loadwise.AotProxy.Http;

/// <summary>One header field of a parsed head, as offsets into the head's bytes.</summary>
/// <param name="NameStart">Where the name starts (also where the line starts).</param>
/// <param name="NameLength">The name's length.</param>
/// <param name="ValueStart">Where the value starts, after the optional whitespace.</param>
/// <param name="ValueLength">The value's length, without the optional whitespace around it.</param>
internal readonly record struct HeaderField(int NameStart, int NameLength, int ValueStart, int ValueLength)
{
    /// <summary>Gets the name's bytes in <paramref name="head"/>.</summary>
    public ReadOnlySpan<byte> Name(ReadOnlySpan<byte> head) => head.Slice(NameStart, NameLength);

    /// <summary>Gets the value's bytes in <paramref name="head"/>.</summary>
    public ReadOnlySpan<byte> Value(ReadOnlySpan<byte> head) => head.Slice(ValueStart, ValueLength);

    /// <summary>Gets where the field's line ends, after its CRLF (for a line that <see cref="IsCanonical"/>).</summary>
    public int LineEnd => ValueStart + ValueLength + 2;

    /// <summary>
    /// Gets whether the line reads exactly <c>Name: value</c> and CRLF (one space, nothing after the value), as
    /// <see cref="HttpOutputBuffer.AppendField"/> would write it, so that it can be copied as it came.
    /// </summary>
    public bool IsCanonical(ReadOnlySpan<byte> head) =>
        ValueStart == NameStart + NameLength + 2 && head[NameStart + NameLength + 1] == (byte)' ' && head[ValueStart + ValueLength] == (byte)'\r';
}
