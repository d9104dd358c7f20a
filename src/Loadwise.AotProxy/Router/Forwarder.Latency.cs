using Loadwise.AotProxy.Http;
using Loadwise.AotProxy.Upstream;

namespace Loadwise.AotProxy.Router;

/// <summary>The latency reports PeakEwma picks by.</summary>
internal sealed partial class Forwarder
{
    /// <summary>
    /// Reports one attempt to PeakEwma's tracker: the time from the attempt's start to the backend's response head (to
    /// the attempt's end when no head came), at most the response-headers timeout plus the failure penalty, so that one
    /// long exchange cannot hold a backend's average up for minutes. A failed attempt (no usable response, a timeout, or
    /// a status that <c>HealthChecks:Passive:FailureStatusCodes</c> counts as a failure) is charged at least
    /// <see cref="ForwarderSettings.FailurePenalty"/>: Finagle's metric charges a failure its round trip like any
    /// answer, and a backend that fails at once would then look like the fastest of all and draw more traffic.
    /// No sample is taken when the time says nothing about the backend: the client left or sent a bad body, the proxy
    /// itself failed, or the client streamed its body during the attempt (a client could trickle an upload to make a
    /// backend look slow and steer traffic elsewhere); a streamed attempt that failed is charged the penalty alone.
    /// </summary>
    private void ReportLatency<TExchange>(int index, in AttemptResult result, long attemptStarted, TExchange exchange, bool threw)
        where TExchange : IClientExchange
    {
        bool? failed = threw ? null : result.Outcome switch
        {
            AttemptOutcome.Retryable or AttemptOutcome.Failed or AttemptOutcome.TimedOut => true,
            AttemptOutcome.Completed => _health.IsFailureStatus(result.Status),
            _ => null, // the client left or sent a bad body: not the backend's doing
        };
        bool streamedUpload = exchange.HasBody && exchange.BodyStarted;
        if (failed is null || (streamedUpload && failed == false))
        {
            _latency!.Abandon(index);
            return;
        }

        long end = result.HeadersAt != 0 ? result.HeadersAt : _clock.Timestamp;
        TimeSpan latency = streamedUpload ? TimeSpan.Zero : _clock.Time.GetElapsedTime(attemptStarted, end);
        TimeSpan most = _settings.Upstream.ResponseHeadersTimeout + _settings.FailurePenalty;
        latency = latency > most ? most : latency;
        if (failed == true && latency < _settings.FailurePenalty)
        {
            latency = _settings.FailurePenalty;
        }

        _latency!.Report(index, latency);
    }
}
