using FsCheck;
using FsCheck.Fluent;

namespace Loadwise.Tests.Health;

public class HealthPropertyTests
{
    /// <summary>
    /// A deliberately naive model of the documented state table (docs/core/health.md), written without the policy's code: run counters and a switch.
    /// </summary>
    private sealed class ReferenceModel(int t, int r)
    {
        private int _failures;
        private int _successes;

        public HealthStatus Status { get; private set; } = HealthStatus.Healthy;

        public void Fail()
        {
            switch (Status)
            {
                case HealthStatus.Healthy:
                case HealthStatus.Degraded:
                    _failures++;
                    if (_failures >= t)
                    {
                        Status = HealthStatus.Unhealthy;
                    }
                    else if (2 * _failures >= t)
                    {
                        Status = HealthStatus.Degraded;
                    }

                    break;
                case HealthStatus.Recovering:
                    Status = HealthStatus.Unhealthy;
                    break;
            }
        }

        public void Succeed()
        {
            switch (Status)
            {
                case HealthStatus.Healthy:
                case HealthStatus.Degraded:
                    Status = HealthStatus.Healthy;
                    _failures = 0;
                    break;
                case HealthStatus.Unhealthy:
                    Status = HealthStatus.Recovering;
                    _successes = 0;
                    break;
                case HealthStatus.Recovering:
                    if (++_successes == r)
                    {
                        Status = HealthStatus.Healthy;
                        _failures = 0;
                    }

                    break;
            }
        }
    }

    [Fact]
    public void Tracker_agrees_with_reference_model_on_random_outcome_sequences()
    {
        Gen<(int T, int R, OutcomeKind[] Outcomes)> cases =
            from t in Gen.Choose(1, 5)
            from r in Gen.Choose(1, 4)
            from outcomes in Gen.ArrayOf(Gen.Elements(OutcomeKind.Success, OutcomeKind.Failure, OutcomeKind.Failure, OutcomeKind.RateLimited))
            select (t, r, outcomes);

        Property property = Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var time = new ManualTimeProvider();
            var tracker = new HealthTracker<string>(new HealthTrackerOptions
            {
                Policy = new ConsecutiveFailurePolicy(c.T, c.R),
                TimeProvider = time,
            });
            var model = new ReferenceModel(c.T, c.R);
            foreach (OutcomeKind kind in c.Outcomes)
            {
                switch (kind)
                {
                    case OutcomeKind.Success:
                        tracker.ReportSuccess("node");
                        model.Succeed();
                        break;
                    case OutcomeKind.Failure:
                        tracker.ReportFailure("node");
                        model.Fail();
                        break;
                    default:
                        tracker.ReportRateLimited("node", TimeSpan.FromSeconds(1));
                        break;
                }

                time.Advance(TimeSpan.FromMilliseconds(300));
                if (tracker.GetStatus("node") != model.Status || tracker.GetHandle("node").Status != model.Status)
                {
                    return false;
                }
            }

            return true;
        });

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(500), property);
    }
}
