using System.Buffers;
using System.Buffers.Text;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Loadwise.AotProxy.Http;

namespace Loadwise.AotProxy.Upstream;

/// <summary>Reads responses off an <see cref="BackendConnection"/>: the head, then the body by its framing.</summary>
internal static class ResponseReader
{
    /// <summary>The longest chunk-size or trailer line accepted.</summary>
    private const int MaxLineLength = 4096;

    /// <summary>The most interim (1xx) responses taken before the final one.</summary>
    private const int MaxInterimResponses = 8;

    /// <summary>Control characters refused in a chunk-size or trailer line: all but horizontal tab, and DEL.</summary>
    private static readonly SearchValues<byte> TrailerControlBytes = SearchValues.Create([.. Enumerable.Range(0, 32).Where(static b => b != '\t').Select(static b => (byte)b), (byte)127]);

    /// <summary>
    /// Reads what has arrived of the final response head into <paramref name="head"/>, skipping interim 1xx responses
    /// and receiving more while a receive completes at once. Returns true once the head is read; false when a receive
    /// has to wait: the caller awaits <paramref name="pending"/>, hands its count to <see cref="ReceivedHeadBytes"/> and
    /// calls again. No async state machine of its own: the forwarder awaits in its own, once per request fewer.
    /// Fails with <see cref="UpstreamError.NoResponse"/> when the backend sent nothing at all, otherwise with
    /// <see cref="UpstreamError.InvalidResponse"/>. A receive that fails (here or while the caller waits) comes out as its
    /// <see cref="SocketException"/>, which the caller classifies the same way by <see cref="BackendConnection.Received"/>.
    /// </summary>
    /// <example>
    /// <code>
    /// while (!ResponseReader.TryReadHead(connection, connection.Head, isHead, out ValueTask&lt;int&gt; pending, token))
    /// {
    ///     ResponseReader.ReceivedHeadBytes(connection, await pending);
    /// }
    /// </code>
    /// </example>
    public static bool TryReadHead(BackendConnection connection, ResponseHead head, bool requestWasHead, out ValueTask<int> pending, CancellationToken cancellationToken)
    {
        while (true)
        {
            OperationStatus parsed = head.TryParse(connection.Available, requestWasHead, out int consumed, out string? error);
            if (parsed == OperationStatus.Done)
            {
                head.Offset = connection.Start;
                connection.Start += consumed;
                if (head.Status == 101)
                {
                    throw new UpstreamException(UpstreamError.InvalidResponse, "backend switched protocols, which the proxy never asks for");
                }

                if (head.Status >= 200)
                {
                    if (!head.KeepAlive)
                    {
                        connection.MarkNotReusable();
                    }

                    pending = default;
                    return true;
                }

                if (!head.KeepAlive)
                {
                    // An interim response that announced a body or a close: the final one may follow, but nothing after it.
                    connection.MarkNotReusable();
                }

                if (++connection.InterimResponses > MaxInterimResponses)
                {
                    // A backend that sends nothing but 1xx would hold the attempt, and a core, until the headers timeout.
                    throw new UpstreamException(UpstreamError.InvalidResponse, $"more than {MaxInterimResponses} interim responses");
                }

                continue; // 100 Continue, 103 Early Hints: the final response follows.
            }

            if (parsed == OperationStatus.InvalidData)
            {
                throw new UpstreamException(UpstreamError.InvalidResponse, "invalid response head: " + error);
            }

            if (!connection.TryFillNow(out bool more, out pending, cancellationToken))
            {
                return false;
            }

            if (!more)
            {
                throw HeadBrokeOff(connection);
            }
        }
    }

    /// <summary>Takes in the count of a receive <see cref="TryReadHead"/> left waiting; fails as it does when the backend closed.</summary>
    public static void ReceivedHeadBytes(BackendConnection connection, int read)
    {
        if (!connection.Filled(read))
        {
            throw HeadBrokeOff(connection);
        }
    }

    /// <summary>The backend closed the connection (or filled the buffer) before the head was complete.</summary>
    private static UpstreamException HeadBrokeOff(BackendConnection connection) =>
        connection.Received == 0
            ? new UpstreamException(UpstreamError.NoResponse, "backend closed the connection without responding")
            : new UpstreamException(UpstreamError.InvalidResponse, connection.Start == 0 && connection.End == BackendConnection.BufferSize
                ? $"response head larger than {BackendConnection.BufferSize / 1024} KiB"
                : "backend closed the connection inside the response head");

    /// <summary>
    /// Copies the body that <paramref name="head"/> announced to <paramref name="destination"/>, decoding chunks; each
    /// read from the backend is bounded by <paramref name="deadline"/>, each write to the client by its token. Gets the
    /// body bytes written (decoded).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<long> CopyBodyAsync(BackendConnection connection, ResponseHead head, Stream destination, ReadDeadline deadline)
    {
        long copied = 0;
        switch (head.Framing)
        {
            case BodyFraming.ContentLength:
                await CopyExactAsync(connection, head.ContentLength, destination, deadline).ConfigureAwait(false);
                copied = head.ContentLength;
                break;
            case BodyFraming.Chunked:
                while (true)
                {
                    long size = ParseChunkSize(await ReadLineAsync(connection, deadline).ConfigureAwait(false), connection);
                    if (size == 0)
                    {
                        // Trailer fields up to the blank line: checked as fields, not forwarded.
                        int length;
                        while ((length = await ReadLineAsync(connection, deadline).ConfigureAwait(false)) > 0)
                        {
                            ReadOnlySpan<byte> line = connection.Buffer.AsSpan(connection.Start - length - 2, length);
                            int colon = line.IndexOf((byte)':');
                            if (colon <= 0 || !HttpSyntax.IsToken(line[..colon]) || line.ContainsAny(TrailerControlBytes))
                            {
                                throw new UpstreamException(UpstreamError.Body, "invalid trailer field");
                            }
                        }

                        break;
                    }

                    await CopyExactAsync(connection, size, destination, deadline).ConfigureAwait(false);
                    copied += size;
                    if (await ReadLineAsync(connection, deadline).ConfigureAwait(false) != 0)
                    {
                        throw new UpstreamException(UpstreamError.Body, "chunk data longer than its size");
                    }
                }

                break;
            case BodyFraming.UntilClose:
                while (true)
                {
                    if (connection.Start < connection.End)
                    {
                        await destination.WriteAsync(connection.Buffer.AsMemory(connection.Start, connection.End - connection.Start), deadline.ClientAborted).ConfigureAwait(false);
                        copied += connection.End - connection.Start;
                        connection.Start = connection.End;
                    }

                    if (!await FillForBodyAsync(connection, deadline).ConfigureAwait(false))
                    {
                        break;
                    }
                }

                break;
        }

        return copied;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask CopyExactAsync(BackendConnection connection, long remaining, Stream destination, ReadDeadline deadline)
    {
        while (remaining > 0)
        {
            if (connection.Start == connection.End && !await FillForBodyAsync(connection, deadline).ConfigureAwait(false))
            {
                throw new UpstreamException(UpstreamError.Body, $"backend closed the connection with {remaining} body bytes to go");
            }

            int take = (int)Math.Min(remaining, connection.End - connection.Start);
            await destination.WriteAsync(connection.Buffer.AsMemory(connection.Start, take), deadline.ClientAborted).ConfigureAwait(false);
            connection.Start += take;
            remaining -= take;
        }
    }

    /// <summary>Reads one CRLF-terminated line and returns its length without the line end; the line starts at Start - length - 2.</summary>
    private static async ValueTask<int> ReadLineAsync(BackendConnection connection, ReadDeadline deadline)
    {
        while (true)
        {
            int lf = connection.Available.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                if (lf == 0 || connection.Available[lf - 1] != (byte)'\r')
                {
                    throw new UpstreamException(UpstreamError.Body, "chunked body line without CRLF");
                }

                connection.Start += lf + 1;
                return lf - 1;
            }

            if (connection.End - connection.Start > MaxLineLength)
            {
                throw new UpstreamException(UpstreamError.Body, "chunked body line too long");
            }

            if (!await FillForBodyAsync(connection, deadline).ConfigureAwait(false))
            {
                throw new UpstreamException(UpstreamError.Body, "backend closed the connection inside a chunked body");
            }
        }
    }

    /// <summary>Parses the chunk-size line just read (hex digits, then optional extensions after ';').</summary>
    private static long ParseChunkSize(int lineLength, BackendConnection connection)
    {
        ReadOnlySpan<byte> line = connection.Buffer.AsSpan(connection.Start - lineLength - 2, lineLength);
        if (line.ContainsAny(TrailerControlBytes))
        {
            // A bare CR in an extension would end the line for a lenient parser behind or in front (nginx refuses it too).
            throw new UpstreamException(UpstreamError.Body, "control character in a chunk-size line");
        }

        int semicolon = line.IndexOf((byte)';');
        ReadOnlySpan<byte> digits = (semicolon >= 0 ? line[..semicolon] : line).TrimEnd(" \t"u8);
        if (digits.IsEmpty || digits.Length > 15 || !Utf8Parser.TryParse(digits, out long size, out int used, 'x') || used != digits.Length)
        {
            throw new UpstreamException(UpstreamError.Body, "invalid chunk size");
        }

        return size;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<bool> FillForBodyAsync(BackendConnection connection, ReadDeadline deadline)
    {
        CancellationToken token = deadline.Begin();
        try
        {
            return await connection.FillAsync(token).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            throw new UpstreamException(UpstreamError.Body, e.Message, e);
        }
        catch (OperationCanceledException e)
        {
            throw deadline.Explain(e);
        }
        finally
        {
            deadline.End();
        }
    }
}
