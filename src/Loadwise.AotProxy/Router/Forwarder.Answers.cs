using Loadwise.AotProxy.Backends;
using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Logging;
using Loadwise.AotProxy.Metrics;
using Loadwise.AotProxy.Upstream;

namespace Loadwise.AotProxy.Router;

/// <summary>How the router picks a backend, and what it answers for each attempt result.</summary>
internal sealed partial class Forwarder
{
    /// <summary>
    /// Records an attempt's result and answers the client where the attempt did not: a drop for a client that left,
    /// 504 for a timeout, and for a failure a 502 when nothing of the response reached the client yet, else a cut
    /// connection (the only honest signal left once a response has started).
    /// </summary>
    private async ValueTask AnswerAsync<TExchange>(TExchange exchange, Backend backend, AttemptResult result, long started)
        where TExchange : IClientExchange
    {
        int status;
        switch (result.Outcome)
        {
            case AttemptOutcome.Completed:
                status = result.Status;
                break;
            case AttemptOutcome.ClientGone:
                _metrics.Dropped(ProxyMetrics.ClientAbort);
                return;
            case AttemptOutcome.ClientError:
                status = result.Status;
                await exchange.WriteErrorAsync(status, $"{status} bad request body\n").ConfigureAwait(false);
                break;
            case AttemptOutcome.TimedOut:
                Log.UpstreamTimeout(_logger, backend.Id);
                backend.Stats.RecordError(_clock.Time.GetUtcNow(), "no response head in time");
                status = StatusCodes.Status504GatewayTimeout;
                await exchange.WriteErrorAsync(status, "504 backend did not answer in time\n").ConfigureAwait(false);
                break;
            default:
                // Failed, or retryable with no retry left.
                Log.UpstreamFailed(_logger, backend.Id, result.Error ?? "failed");
                backend.Stats.RecordError(_clock.Time.GetUtcNow(), result.Error ?? "failed");
                status = StatusCodes.Status502BadGateway;
                if (exchange.TryDiscardResponse())
                {
                    await exchange.WriteErrorAsync(status, result.Outcome == AttemptOutcome.Retryable ? "502 backend unreachable\n" : "502 invalid response from the backend\n").ConfigureAwait(false);
                }
                else
                {
                    exchange.Abort();
                }

                break;
        }

        Completed(backend, status, started);
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
    private async ValueTask NoBackendAsync<TExchange>(TExchange exchange, int[]? tried, int attempts, long started)
        where TExchange : IClientExchange
    {
        if (attempts == 0)
        {
            _metrics.Dropped(ProxyMetrics.NoBackend);
            await exchange.WriteErrorAsync(StatusCodes.Status503ServiceUnavailable, "503 no backend available\n", _health.RetryAfterSeconds(_backends)).ConfigureAwait(false);
            return;
        }

        Backend failed = _backends[tried![attempts - 1]];
        Log.UpstreamFailed(_logger, failed.Id, "no other backend to retry on");
        await exchange.WriteErrorAsync(StatusCodes.Status502BadGateway, "502 backend unreachable\n").ConfigureAwait(false);
        Completed(failed, StatusCodes.Status502BadGateway, started);
    }

    /// <summary>
    /// Picks a backend: Core's health filter and the strategy in one allocation-free call. A retry excludes the backends
    /// already tried through the selection context's mask (on the stack; at most 4,096 backends, 64 words).
    /// </summary>
    private int Select(bool hasKey, ulong key, int[]? tried, int triedCount)
    {
        if (triedCount == 0 && Volatile.Read(ref _drained) == 0)
        {
            var first = hasKey ? new SelectionContext { HashKey = key } : default;
            return Filter.TrySelect(_nodes, in first, _healthFilter, _strategy, out int index) ? index : -1;
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
        return Filter.TrySelect(_nodes, in retry, _healthFilter, _strategy, out int retryIndex) ? retryIndex : -1;
    }
}
