namespace Loadwise.Grpc;

/// <summary>
/// Finds the retry delay in a serialized <c>google.rpc.Status</c> (the <c>grpc-status-details-bin</c> trailer):
/// <c>Status.details</c> (field 3) holds <c>Any</c> messages; the one whose type URL ends in
/// <c>google.rpc.RetryInfo</c> holds <c>retry_delay</c> (field 1), a <c>Duration</c> (seconds 1, nanos 2). Read
/// with a few lines of protobuf wire format, so that the package needs no protobuf runtime.
/// </summary>
internal static class StatusDetails
{
    private const string RetryInfoType = "google.rpc.RetryInfo";

    public static bool TryDecodeBase64(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? bytes)
    {
        bytes = null;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        // gRPC may send binary headers unpadded.
        string padded = (text.Length % 4) switch { 2 => text + "==", 3 => text + "=", _ => text };
        byte[] buffer = new byte[padded.Length / 4 * 3];
        if (!Convert.TryFromBase64String(padded, buffer, out int written))
        {
            return false;
        }

        bytes = buffer.AsSpan(0, written).ToArray();
        return true;
    }

    public static TimeSpan? FindRetryDelay(ReadOnlySpan<byte> status)
    {
        var reader = new Reader(status);
        while (reader.TryReadField(out int field, out int wire, out ReadOnlySpan<byte> body))
        {
            if (field == 3 && wire == 2 && FromAny(body) is { } delay)
            {
                return delay;
            }
        }

        return null;
    }

    private static TimeSpan? FromAny(ReadOnlySpan<byte> any)
    {
        bool isRetryInfo = false;
        ReadOnlySpan<byte> value = default;
        var reader = new Reader(any);
        while (reader.TryReadField(out int field, out int wire, out ReadOnlySpan<byte> body))
        {
            if (field == 1 && wire == 2)
            {
                isRetryInfo = System.Text.Encoding.UTF8.GetString(body).EndsWith(RetryInfoType, StringComparison.Ordinal);
            }
            else if (field == 2 && wire == 2)
            {
                value = body;
            }
        }

        if (!isRetryInfo)
        {
            return null;
        }

        var retryInfo = new Reader(value);
        while (retryInfo.TryReadField(out int field, out int wire, out ReadOnlySpan<byte> duration))
        {
            if (field == 1 && wire == 2)
            {
                long seconds = 0;
                long nanos = 0;
                var fields = new Reader(duration);
                while (fields.TryReadField(out int f, out int w, out _, out ulong number))
                {
                    if (w == 0 && f == 1)
                    {
                        seconds = (long)number;
                    }
                    else if (w == 0 && f == 2)
                    {
                        nanos = (long)number;
                    }
                }

                return seconds < 0 || nanos < 0 || seconds > TimeSpan.MaxValue.TotalSeconds - 1
                    ? null
                    : TimeSpan.FromSeconds(seconds) + TimeSpan.FromTicks(nanos / 100);
            }
        }

        return null;
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _data = data;

        public bool TryReadField(out int field, out int wire, out ReadOnlySpan<byte> body) => TryReadField(out field, out wire, out body, out _);

        public bool TryReadField(out int field, out int wire, out ReadOnlySpan<byte> body, out ulong number)
        {
            field = 0;
            wire = 0;
            body = default;
            number = 0;
            if (_data.IsEmpty || !TryReadVarint(out ulong tag))
            {
                return false;
            }

            field = (int)(tag >> 3);
            wire = (int)(tag & 7);
            switch (wire)
            {
                case 0:
                    return TryReadVarint(out number);
                case 1:
                    return Skip(8);
                case 2:
                    if (!TryReadVarint(out ulong length) || length > (ulong)_data.Length)
                    {
                        return false;
                    }

                    body = _data[..(int)length];
                    _data = _data[(int)length..];
                    return true;
                case 5:
                    return Skip(4);
                default:
                    return false; // groups are not used by these messages; stop rather than misread
            }
        }

        private bool Skip(int count)
        {
            if (_data.Length < count)
            {
                return false;
            }

            _data = _data[count..];
            return true;
        }

        private bool TryReadVarint(out ulong value)
        {
            value = 0;
            for (int shift = 0, i = 0; shift < 64 && i < _data.Length; shift += 7, i++)
            {
                byte b = _data[i];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    _data = _data[(i + 1)..];
                    return true;
                }
            }

            return false;
        }
    }
}
