using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Health;
using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.Upstream;

/// <summary>
/// One attempt on one plain-HTTP backend over the proxy's own HTTP/1.1 connections: rent or connect, write the request
/// head into the connection's empty receive buffer, send, parse the response head in that buffer, then relay the
/// response through the exchange and give the connection back. No HttpRequestMessage, HttpResponseMessage or Uri per
/// request; the same outcomes and retry rules as <see cref="HttpClientAttempt"/> (<see cref="AttemptClassifier"/>).
/// </summary>
/// <example><code>
/// var attempt = new DirectAttempt(backend, pool, settings, health);
/// AttemptResult result = await attempt.ForwardAsync(exchange, target, now);
/// </code></example>
internal sealed class DirectAttempt(Backend backend, ConnectionPool pool, UpstreamSettings settings, BackendHealth health)
{
    private static readonly ReadOnlyMemory<byte> LastChunk = "0\r\n\r\n"u8.ToArray();

    /// <summary>Gets the backend's pool.</summary>
    public ConnectionPool Pool => pool;

    /// <summary>
    /// Forwards the exchange's request and relays the response; <paramref name="attemptStarted"/> (<see cref="ProxyClock"/>
    /// milliseconds) starts the response-headers timeout and dates the connection's return to the pool.
    /// </summary>
    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskMethodBuilder<>))]
    public async ValueTask<AttemptResult> ForwardAsync<TExchange>(TExchange exchange, UpstreamTarget target, long attemptStarted)
        where TExchange : IClientExchange
    {
        BackendConnection? connection = null;
        Exception? failure = null;
        // From the exchange: the codec keeps one source and one lazy timer per connection (AttemptTimeout).
        AttemptCancellation attempt = exchange.BeginAttempt(settings.ResponseHeadersTimeout, attemptStarted, settings.Clock);
        try
        {
            CancellationToken cancellation = attempt.Token;
            bool isHead = HttpMethods.IsHead(exchange.Method);
            HttpOutputBuffer requestHead = default;
            try
            {
                for (int reconnects = 0; ; reconnects++)
                {
                    bool reused = pool.TryRent(attemptStarted, out connection);
                    if (!reused)
                    {
                        connection = await pool.ConnectAsync(cancellation).ConfigureAwait(false);
                    }

                    // Written into the connection's empty receive buffer, as it goes out whole before the response is
                    // read into that buffer: no buffer rented per request (only a head over 16 KiB rents). A body the
                    // exchange holds whole goes in the same send: copied behind the head when both fit that buffer,
                    // else beside it in one gather send; a larger one streams after the head.
                    requestHead.Dispose();
                    requestHead = new HttpOutputBuffer(connection.Buffer);
                    exchange.WriteRequestHead(ref requestHead, in target);
                    bool streamed = false;
                    ReadOnlyMemory<byte> separateBody = default;
                    if (exchange.BodyLength != 0)
                    {
                        if (!exchange.TryGetBufferedBody(out ReadOnlyMemory<byte> body))
                        {
                            streamed = true;
                        }
                        else if (requestHead.Written.Length + body.Length <= connection.Buffer.Length)
                        {
                            requestHead.Append(body.Span);
                        }
                        else
                        {
                            // Sent from where it is held, in one gather send with the head: no copy behind the head.
                            separateBody = body;
                        }
                    }

                    connection.BeginExchange();
                    try
                    {
                        await (separateBody.IsEmpty
                            ? connection.SendAsync(requestHead.Written, cancellation)
                            : connection.SendAsync(requestHead.Written, separateBody, cancellation)).ConfigureAwait(false);

                        if (streamed)
                        {
                            requestHead.Dispose();
                            if (!await UploadAsync(exchange, connection).ConfigureAwait(false))
                            {
                                // The backend answered before taking the whole body (and may have refused it): its
                                // answer is relayed, but the connection is out of step with the request and is not
                                // reused.
                                connection.MarkNotReusable();
                            }

                            // The response-headers timeout runs from the end of the upload, which its own idle
                            // deadline timed: a large or slow upload is not a backend that does not answer.
                            exchange.EndAttempt(attempt);
                            attempt = exchange.BeginAttempt(settings.ResponseHeadersTimeout, settings.Clock.NowMilliseconds, settings.Clock);
                            cancellation = attempt.Token;
                        }

                        while (!ResponseReader.TryReadHead(connection, connection.Head, isHead, out ValueTask<int> pending, cancellation))
                        {
                            ResponseReader.ReceivedHeadBytes(connection, await pending.ConfigureAwait(false));
                        }

                        break;
                    }
                    catch (Exception e) when (reused && reconnects == 0 && connection.Received == 0 && !exchange.BodyStarted
                        && e is SocketException or UpstreamException { Error: UpstreamError.NoResponse })
                    {
                        // The backend closed this idle connection before the request arrived, so nothing was
                        // processed: a new connection may carry it, whatever the method (HttpClient does the same).
                        connection.Dispose();
                        connection = null;
                    }
                }
            }
            catch (Exception e)
            {
                // Whatever failed, the connection is disposed below: an ownership rule, not a list of exception types,
                // so that none can leak it.
                failure = e;
            }
            finally
            {
                requestHead.Dispose();
            }
        }
        finally
        {
            exchange.EndAttempt(attempt);
        }

        if (failure is not null)
        {
            long received = connection?.Received ?? 0;
            connection?.Dispose();
            return Failed(exchange, failure, received);
        }

        return await RelayAsync(exchange, connection!, attemptStarted).ConfigureAwait(false);
    }

    /// <summary>
    /// Relays the response whose head arrived, and owns the connection: back to the pool after a clean end, closed on
    /// anything else. Completes without waiting when the body came with the head, so it costs no state machine then.
    /// </summary>
    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskMethodBuilder<>))]
    private async ValueTask<AttemptResult> RelayAsync<TExchange>(TExchange exchange, BackendConnection connection, long attemptStarted)
        where TExchange : IClientExchange
    {
        long headersAt = settings.Clock.Timestamp;
        ResponseHead head = connection.Head;
        Outcome outcome = health.Classify(head.Status, head.RetryAfter);
        if (outcome.Kind == OutcomeKind.RateLimited)
        {
            // At once, so that the backend rests from now rather than from the end of the body.
            health.ReportPassive(backend, outcome);
        }

        long bytes = 0;
        try
        {
            exchange.BeginResponse(head, connection.Buffer.AsSpan(head.Offset));
            if (head.Framing == BodyFraming.ContentLength && head.ContentLength <= connection.End - connection.Start)
            {
                // The whole body came with the head (a small response): one write, without the copy loop.
                int length = (int)head.ContentLength;
                await exchange.ResponseBody.WriteAsync(connection.Buffer.AsMemory(connection.Start, length), exchange.ClientAborted).ConfigureAwait(false);
                connection.Start += length;
                bytes = length;
            }
            else if (head.Framing != BodyFraming.None)
            {
                using var deadline = new ReadDeadline(exchange.ClientAborted, settings.ResponseBodyIdleTimeout, settings.Clock);
                bytes = await ResponseReader.CopyBodyAsync(connection, head, exchange.ResponseBody, deadline).ConfigureAwait(false);
            }

            exchange.EndResponse();
        }
        catch (Exception e)
        {
            // Any exception: the connection is in an unknown state, so it is closed, never pooled.
            connection.Dispose();
            return BrokeOff(exchange, e);
        }

        if (head.KeepAlive)
        {
            pool.Return(connection, attemptStarted);
        }
        else
        {
            connection.Dispose();
        }

        if (outcome.Kind != OutcomeKind.RateLimited)
        {
            health.ReportPassive(backend, outcome);
        }

        return AttemptResult.Completed(head.Status, bytes, headersAt);
    }

    /// <summary>
    /// Streams the exchange's body to the backend as it arrives, reading the next bytes only once the last went out (a
    /// slow backend slows the client down), chunked when its length is unknown. Stops early when the backend closes or
    /// refuses the body (any answer but 1xx/2xx) before taking it whole; goes on through an early 1xx/2xx (a streaming
    /// backend reads on). False when the backend answered before the body's end: the connection is then not reused.
    /// Each send waits at most the body idle timeout.
    /// </summary>
    [AsyncMethodBuilder(typeof(ThreadPooledValueTaskMethodBuilder<>))]
    private async ValueTask<bool> UploadAsync<TExchange>(TExchange exchange, BackendConnection connection)
        where TExchange : IClientExchange
    {
        // Room before the data for a chunk-size line, and after it for the CRLF.
        const int Before = 18;
        const int After = 2;
        bool chunked = exchange.BodyLength < 0;
        byte[] buffer = connection.Buffer;
        using var deadline = new ReadDeadline(exchange.ClientAborted, settings.ResponseBodyIdleTimeout, settings.Clock);
        bool answeredEarly = false;
        while (true)
        {
            if (!connection.TakesMoreBody(out bool answered))
            {
                return false;
            }

            answeredEarly |= answered;

            int read = await exchange.ReadBodyAsync(buffer.AsMemory(Before, buffer.Length - Before - After), exchange.ClientAborted).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            int start = Before;
            int end = Before + read;
            if (chunked)
            {
                // The size in hex, formatted at the buffer's start and moved next to the data (CopyTo allows the overlap).
                System.Buffers.Text.Utf8Formatter.TryFormat((ulong)read, buffer, out int digits, new System.Buffers.StandardFormat('x'));
                start = Before - digits - 2;
                buffer.AsSpan(0, digits).CopyTo(buffer.AsSpan(start));
                "\r\n"u8.CopyTo(buffer.AsSpan(start + digits));
                "\r\n"u8.CopyTo(buffer.AsSpan(end));
                end += 2;
            }

            if (!await SendAsync(connection, buffer.AsMemory(start, end - start), deadline).ConfigureAwait(false))
            {
                return false;
            }
        }

        // A backend that answered before the body's end gets the rest of it, but its connection is not reused: it ran
        // ahead of the request, and what it makes of the rest of the body cannot be checked.
        return (!chunked || await SendAsync(connection, LastChunk, deadline).ConfigureAwait(false)) && !answeredEarly;
    }

    /// <summary>
    /// One send of the upload, bounded by the body idle timeout; false when the backend stopped taking the body (it
    /// closed, and may have answered first: the response is read next, as nginx reads it).
    /// </summary>
    private static async ValueTask<bool> SendAsync(BackendConnection connection, ReadOnlyMemory<byte> data, ReadDeadline deadline)
    {
        CancellationToken token = deadline.Begin();
        try
        {
            await connection.SendAsync(data, token).ConfigureAwait(false);
            return true;
        }
        catch (SocketException)
        {
            return false;
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

    /// <summary>A failure before the response head: classified as both paths classify it, and reported against the backend.</summary>
    private AttemptResult Failed<TExchange>(TExchange exchange, Exception e, long received)
        where TExchange : IClientExchange
    {
        if (exchange.ClientAborted.IsCancellationRequested || e is ClientBodyException { Status: 0 })
        {
            return AttemptResult.ClientGone;
        }

        if (e is ClientBodyException clientBody)
        {
            // The client's own body was bad or too slow: its status, not a mark against the backend.
            return AttemptClassifier.Classify(FailureStage.ClientBody, e.Message, false, true, true, clientBody.Status);
        }

        FailureStage stage = e switch
        {
            OperationCanceledException => FailureStage.Timeout,
            UpstreamException { Error: UpstreamError.Connect } => FailureStage.Connect,
            UpstreamException { Error: UpstreamError.NoResponse } => FailureStage.NoResponse,
            UpstreamException => FailureStage.InvalidResponse,
            SocketException => received > 0 ? FailureStage.InvalidResponse : FailureStage.NoResponse,
            _ => FailureStage.Unexpected,
        };
        if (stage != FailureStage.Unexpected)
        {
            // Not the backend's fault otherwise (a request the proxy could not write): no mark against it.
            health.ReportPassive(backend, Outcome.Failure);
        }

        string error = stage == FailureStage.Unexpected ? e.GetType().Name + ": " + e.Message : e.Message;
        bool streamedBody = exchange.BodyLength != 0 && !exchange.TryGetBufferedBody(out _);
        return AttemptClassifier.Classify(stage, error, AttemptClassifier.IsIdempotent(exchange.Method), streamedBody, exchange.BodyStarted);
    }

    /// <summary>A response that failed after its head arrived: a client that went away is a drop; otherwise the backend failed.</summary>
    private AttemptResult BrokeOff<TExchange>(TExchange exchange, Exception e)
        where TExchange : IClientExchange
    {
        if (exchange.ClientGone)
        {
            return AttemptResult.ClientGone;
        }

        health.ReportPassive(backend, Outcome.Failure);
        return AttemptResult.Failed(e.Message);
    }
}
