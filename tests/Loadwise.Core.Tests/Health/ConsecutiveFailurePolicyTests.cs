namespace Loadwise.Tests.Health;

public class ConsecutiveFailurePolicyTests
{
    private const HealthStatus H = HealthStatus.Healthy;
    private const HealthStatus D = HealthStatus.Degraded;
    private const HealthStatus U = HealthStatus.Unhealthy;
    private const HealthStatus R = HealthStatus.Recovering;

    [Fact]
    public void Defaults_are_threshold_3_recovery_2_probe_10s()
    {
        var policy = ConsecutiveFailurePolicy.Default;
        Assert.Equal(3, policy.FailureThreshold);
        Assert.Equal(2, policy.DegradedThreshold);
        Assert.Equal(2, policy.RecoverySuccesses);
        Assert.Equal(TimeSpan.FromSeconds(10), policy.ProbeInterval);
    }

    [Theory]
    [InlineData(0, 2, 10, "failureThreshold")]
    [InlineData(-1, 2, 10, "failureThreshold")]
    [InlineData(3, 0, 10, "recoverySuccesses")]
    [InlineData(3, 2, 0, "probeInterval")]
    [InlineData(3, 2, -5, "probeInterval")]
    public void Bad_arguments_throw_naming_the_parameter(int threshold, int recovery, int probeSeconds, string parameter)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new ConsecutiveFailurePolicy(threshold, recovery, TimeSpan.FromSeconds(probeSeconds)));
        Assert.Equal(parameter, error.ParamName);
    }

    // Status after each consecutive failure from Healthy, written out by hand: Degraded after ceil(t/2), Unhealthy after t.
    [Theory]
    [InlineData(1, "U")]
    [InlineData(2, "DU")]
    [InlineData(3, "HDU")]
    [InlineData(4, "HDDU")]
    [InlineData(5, "HHDDU")]
    public void Consecutive_failures_walk_healthy_degraded_unhealthy(int threshold, string expected)
    {
        var policy = new ConsecutiveFailurePolicy(threshold);
        var state = HealthState.Initial;
        var walked = new System.Text.StringBuilder();
        foreach (char _ in expected)
        {
            state = policy.Next(state, success: false);
            walked.Append(Letter(state.Status));
        }

        Assert.Equal(expected, walked.ToString());
        Assert.Equal(U, policy.Next(state, success: false).Status); // further failures stay Unhealthy
    }

    [Theory]
    [InlineData(1, "RH")]
    [InlineData(2, "RRH")]
    [InlineData(3, "RRRH")]
    public void Unhealthy_needs_one_success_then_recovery_successes(int recovery, string expected)
    {
        var policy = new ConsecutiveFailurePolicy(3, recovery);
        var state = new HealthState(U, 3, 0);
        var walked = new System.Text.StringBuilder();
        foreach (char _ in expected)
        {
            state = policy.Next(state, success: true);
            walked.Append(Letter(state.Status));
        }

        Assert.Equal(expected, walked.ToString());
    }

    public static TheoryData<int, int> Thresholds()
    {
        var data = new TheoryData<int, int>();
        for (int t = 1; t <= 5; t++)
        {
            for (int r = 1; r <= 3; r++)
            {
                data.Add(t, r);
            }
        }

        return data;
    }

    /// <summary>
    /// Every reachable (status, counters) state times every outcome, against the transition table in docs/core/health.md (the state diagram).
    /// </summary>
    [Theory]
    [MemberData(nameof(Thresholds))]
    public void Exhaustive_transition_table(int t, int r)
    {
        var policy = new ConsecutiveFailurePolicy(t, r);
        int d = (t + 1) / 2;
        int checkedRows = 0;

        // Healthy with f < ceil(t/2) failures; Degraded with ceil(t/2) <= f < t (none when t = 1: Degraded is skipped).
        for (int f = 0; f < t; f++)
        {
            HealthStatus status = f < d ? H : D;
            var state = new HealthState(status, f, 0);
            HealthStatus expectedOnFailure = f + 1 >= t ? U : f + 1 >= d ? D : H;
            Assert.Equal(new HealthState(expectedOnFailure, f + 1, 0), policy.Next(state, success: false));
            Assert.Equal(new HealthState(H, 0, 0), policy.Next(state, success: true)); // Degraded + 1 success -> Healthy
            checkedRows += 2;
        }

        if (t == 1)
        {
            Assert.Equal(U, policy.Next(HealthState.Initial, success: false).Status); // Degraded skipped
        }

        // Unhealthy: a failure keeps it there, a success moves it to Recovering.
        foreach (int f in new[] { t, t + 1, t + 10 })
        {
            var state = new HealthState(U, f, 0);
            Assert.Equal(U, policy.Next(state, success: false).Status);
            Assert.Equal(new HealthState(R, 0, 0), policy.Next(state, success: true));
            checkedRows += 2;
        }

        // Recovering with s successes so far: r in a row -> Healthy, any failure -> Unhealthy.
        for (int s = 0; s < r; s++)
        {
            var state = new HealthState(R, 0, s);
            Assert.Equal(U, policy.Next(state, success: false).Status);
            Assert.Equal(s + 1 >= r ? new HealthState(H, 0, 0) : new HealthState(R, 0, s + 1), policy.Next(state, success: true));
            checkedRows += 2;
        }

        Assert.Equal((2 * t) + 6 + (2 * r), checkedRows);
    }

    [Fact]
    public void Failure_counter_saturates()
    {
        var policy = ConsecutiveFailurePolicy.Default;
        var next = policy.Next(new HealthState(U, int.MaxValue, 0), success: false);
        Assert.Equal(int.MaxValue, next.ConsecutiveFailures);
    }

    private static char Letter(HealthStatus status) => status switch { H => 'H', D => 'D', U => 'U', _ => 'R' };
}
