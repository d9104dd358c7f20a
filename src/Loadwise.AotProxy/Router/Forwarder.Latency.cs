using Loadwise.AotProxy.Upstream;

namespace Loadwise.AotProxy.Router;

/// <summary>The latency reports PeakEwma picks by.</summary>
internal sealed partial class Forwarder
{
    /// <summary>
    /// Reports one attempt to PeakEwma's tracker: the time from the attempt's start to the backend's response head (to
    /// the attempt's end when no head came). A failed attempt (no usable response, a timeout, or a status that
    /// <c>HealthChecks:Passive:FailureStatusCodes</c> counts as a failure) is charged at least
    /// <see cref="ForwarderSettings.FailurePenalty"/>: Finagle's metric charges a failure its round trip like any
    /// answer, and a backend that fails at once would then look like the fastest of all and draw more traffic.
    /// </summary>
    private void ReportLatency(int index, in AttemptResult result, long attemptStarted)
    {
        long end = result.HeadersAt != 0 ? result.HeadersAt : _clock.Timestamp;
        TimeSpan latency = _clock.Time.GetElapsedTime(attemptStarted, end);
        bool failed = result.Outcome switch
        {
            AttemptOutcome.Retryable or AttemptOutcome.Failed or AttemptOutcome.TimedOut => true,
            AttemptOutcome.Completed => _health.IsFailureStatus(result.Status),
            _ => false, // the client left or sent a bad body: not the backend's doing
        };
        if (failed && latency < _settings.FailurePenalty)
        {
            latency = _settings.FailurePenalty;
        }

        _latency!.Report(index, latency);
    }
}
