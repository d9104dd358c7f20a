using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Logging;
using Loadwise.AotProxy.Metrics;
using Loadwise.AotProxy.Upstream;

namespace Loadwise.AotProxy.Router;

/// <summary>How the router picks a backend, and what it answers for each attempt result.</summary>
internal sealed partial class Forwarder
{
    /// <summary>nginx's status for a request whose client left before the answer: never sent, only logged.</summary>
    private const int ClientClosedRequest = 499;

    /// <summary>
    /// Records an attempt's result and answers the client where the attempt did not: a drop for a client that left,
    /// 504 for a timeout, and for a failure a 502 when nothing of the response reached the client yet, else a cut
    /// connection (the only honest signal left once a response has started).
    /// </summary>
    private async ValueTask<(int Status, long Bytes)> AnswerAsync<TExchange>(TExchange exchange, Backend backend, AttemptResult result, long started)
        where TExchange : IClientExchange
    {
        (int Status, long Bytes) answer;
        switch (result.Outcome)
        {
            case AttemptOutcome.Completed:
                answer = (result.Status, result.Bytes);
                break;
            case AttemptOutcome.ClientGone:
                _metrics.Dropped(ProxyMetrics.ClientAbort);
                return (ClientClosedRequest, result.Bytes);
            case AttemptOutcome.ClientError:
                answer = await ErrorAsync(exchange, result.Status, $"{result.Status} bad request body\n").ConfigureAwait(false);
                break;
            case AttemptOutcome.TimedOut:
                Log.UpstreamTimeout(_logger, backend.Id);
                backend.Stats.RecordError(_clock.Time.GetUtcNow(), "no response head in time");
                answer = await ErrorAsync(exchange, StatusCodes.Status504GatewayTimeout, "504 backend did not answer in time\n").ConfigureAwait(false);
                break;
            default:
                // Failed, or retryable with no retry left.
                Log.UpstreamFailed(_logger, backend.Id, result.Error ?? "failed");
                backend.Stats.RecordError(_clock.Time.GetUtcNow(), result.Error ?? "failed");
                if (exchange.TryDiscardResponse())
                {
                    answer = await ErrorAsync(exchange, StatusCodes.Status502BadGateway, result.Outcome == AttemptOutcome.Retryable ? "502 backend unreachable\n" : "502 invalid response from the backend\n").ConfigureAwait(false);
                }
                else
                {
                    exchange.Abort();
                    answer = (StatusCodes.Status502BadGateway, result.Bytes);
                }

                break;
        }

        Completed(backend, answer.Status, started);
        return answer;
    }

    /// <summary>Answers the client with a short plain-text error; gets the status and the body's length for the access log.</summary>
    private static async ValueTask<(int Status, long Bytes)> ErrorAsync<TExchange>(TExchange exchange, int status, string text, int retryAfterSeconds = -1)
        where TExchange : IClientExchange
    {
        await exchange.WriteErrorAsync(status, text, retryAfterSeconds).ConfigureAwait(false);
        return (status, text.Length);
    }

    /// <summary>Gets the clock reading a refusal's access-log line measures from.</summary>
    public long Timestamp => _clock.Timestamp;

    /// <summary>
    /// Writes the access-log line of a request refused before routing (the request rules, ambiguous framing, a bad
    /// body): no backend, the status and body length the client got, time since <paramref name="started"/>.
    /// </summary>
    public void RecordRefusal<TExchange>(TExchange exchange, int status, long bytes, long started)
        where TExchange : IClientExchange
    {
        if (_settings.AccessLog is { } log)
        {
            Record(log, exchange, (status, bytes), backend: null, upstreamTicks: 0, started, retries: 0);
        }
    }

    /// <summary>Writes the request's access-log line.</summary>
    private void Record<TExchange>(AccessLog log, TExchange exchange, (int Status, long Bytes) answer, Backend? backend, long upstreamTicks, long started, int retries)
        where TExchange : IClientExchange
    {
        // No answer recorded: the client left (nginx's 499), or the forwarding threw and Kestrel answers 500.
        int status = answer.Status != 0 ? answer.Status : exchange.ClientGone ? ClientClosedRequest : StatusCodes.Status500InternalServerError;
        var entry = new AccessLogEntry(
            status,
            backend?.Id,
            upstreamTicks * 1000.0 / _clock.Time.TimestampFrequency,
            _clock.Elapsed(started).TotalMilliseconds,
            answer.Bytes,
            retries);
        // Path and query share the codec's decode buffer: the query (written only when configured) is copied first.
        string query = log.LogsQuery ? exchange.Query.ToString() : "";
        log.Write(exchange.Peer, exchange.Method, exchange.Path, query, exchange.Context?.Request.Protocol ?? "HTTP/1.1", entry);
    }

    /// <summary>Records a finished request in the metrics and in the backend's last-minute figures.</summary>
    private void Completed(Backend backend, int status, long started)
    {
        TimeSpan elapsed = _clock.Elapsed(started);
        _metrics.Completed(backend, status, elapsed.TotalSeconds);
        backend.Stats.Record(elapsed.TotalMilliseconds, failed: status >= 500);
    }

    /// <summary>
    /// No backend left to pick: 503 with Retry-After when none was available from the start; otherwise the last
    /// failure stands (every candidate was tried), answered 502.
    /// </summary>
    private async ValueTask<((int Status, long Bytes) Answer, Backend? Failed)> NoBackendAsync<TExchange>(TExchange exchange, int[]? tried, int attempts, long started)
        where TExchange : IClientExchange
    {
        if (attempts == 0)
        {
            _metrics.Dropped(ProxyMetrics.NoBackend);
            return (await ErrorAsync(exchange, StatusCodes.Status503ServiceUnavailable, "503 no backend available\n", _health.RetryAfterSeconds(_backends)).ConfigureAwait(false), null);
        }

        Backend failed = _backends[tried![attempts - 1]];
        Log.UpstreamFailed(_logger, failed.Id, "no other backend to retry on");
        (int Status, long Bytes) answer = await ErrorAsync(exchange, StatusCodes.Status502BadGateway, "502 backend unreachable\n").ConfigureAwait(false);
        Completed(failed, StatusCodes.Status502BadGateway, started);
        return (answer, failed);
    }

    /// <summary>Envoy's overprovisioning factor: a priority level keeps all its traffic until fewer than 1/1.4 (71.4%) of its backends are available.</summary>
    private const double PriorityOverprovisioning = 1.4;

    /// <summary>
    /// Picks a backend: Core's health filter (with priorities and slow start when configured, <see cref="RoutingFilter"/>)
    /// and the strategy in one allocation-free call. A retry excludes the backends
    /// already tried through the selection context's mask (on the stack; at most 4,096 backends, 64 words).
    /// </summary>
    private int Select(bool hasKey, ulong key, int[]? tried, int triedCount)
    {
        if (triedCount == 0 && Volatile.Read(ref _drained) == 0)
        {
            var first = hasKey ? new SelectionContext { HashKey = key } : default;
            return Filter.TrySelect(_nodes, in first, _filter, _strategy, out int index) ? index : -1;
        }

        int words = CandidateMask.WordsFor(_nodes.Length);
        Span<ulong> storage = words <= 64 ? stackalloc ulong[64] : new ulong[words];
        var mask = new CandidateMask(storage[..words], _nodes.Length, allowAll: true);
        for (int i = 0; i < triedCount; i++)
        {
            mask.Exclude(tried![i]);
        }

        // Drained backends are out even in health panic: an operator's decision, not a health guess.
        for (int i = 0; i < _backends.Length && Volatile.Read(ref _drained) > 0; i++)
        {
            if (_backends[i].Drained)
            {
                mask.Exclude(i);
            }
        }

        var retry = new SelectionContext { HashKey = hasKey ? key : null, Mask = mask };
        return Filter.TrySelect(_nodes, in retry, _filter, _strategy, out int retryIndex) ? retryIndex : -1;
    }
}
