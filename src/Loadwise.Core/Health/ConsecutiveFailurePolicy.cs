namespace Loadwise;

/// <summary>
/// The default health policy: counts consecutive failures and successes.
/// </summary>
/// <remarks>
/// With failure threshold <c>t</c> and <c>r</c> recovery successes:
/// <list type="bullet">
/// <item>Healthy → Degraded after <c>ceil(t/2)</c> consecutive failures; a success resets the count.</item>
/// <item>Degraded → Unhealthy after <c>t</c> consecutive failures (counted from Healthy); Degraded + 1 success → Healthy.</item>
/// <item>Unhealthy + 1 success (a probe) → Recovering; failures keep it Unhealthy.</item>
/// <item>Recovering + <c>r</c> further successes → Healthy; Recovering + 1 failure → Unhealthy.</item>
/// <item>With <c>t = 1</c>, <c>ceil(t/2) = t</c>, so the first failure goes straight to Unhealthy: Degraded is skipped.</item>
/// </list>
/// The success that moves Unhealthy to Recovering does not count towards <c>r</c>: a node comes back after
/// <c>1 + r</c> successes in a row. Defaults: <c>t = 3</c>, <c>r = 2</c>, probe interval 10 s.
/// </remarks>
/// <example>
/// <code>
/// var tracker = new HealthTracker&lt;string&gt;(new HealthTrackerOptions
/// {
///     Policy = new ConsecutiveFailurePolicy(failureThreshold: 5, recoverySuccesses: 3, probeInterval: TimeSpan.FromSeconds(30)),
/// });
/// </code>
/// </example>
public sealed class ConsecutiveFailurePolicy : IHealthPolicy
{
    /// <summary>The default failure threshold <c>t</c>.</summary>
    public const int DefaultFailureThreshold = 3;

    /// <summary>The default number of successes a Recovering node needs to become Healthy.</summary>
    public const int DefaultRecoverySuccesses = 2;

    /// <summary>Gets the default probe interval, 10 seconds.</summary>
    /// <example><code>TimeSpan every = ConsecutiveFailurePolicy.DefaultProbeInterval;</code></example>
    public static TimeSpan DefaultProbeInterval => TimeSpan.FromSeconds(10);

    /// <summary>Gets a policy with the defaults (t = 3, r = 2, probe every 10 s).</summary>
    /// <example><code>IHealthPolicy policy = ConsecutiveFailurePolicy.Default;</code></example>
    public static ConsecutiveFailurePolicy Default { get; } = new();

    /// <summary>Creates the policy.</summary>
    /// <param name="failureThreshold">Consecutive failures that make a node Unhealthy (<c>t</c>), 1 or more.</param>
    /// <param name="recoverySuccesses">Successes a Recovering node needs to become Healthy (<c>r</c>), 1 or more.</param>
    /// <param name="probeInterval">How long an Unhealthy node waits between probes, more than zero; null for 10 s.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range; the message names the allowed range.</exception>
    /// <example><code>var policy = new ConsecutiveFailurePolicy(failureThreshold: 1); // no Degraded state</code></example>
    public ConsecutiveFailurePolicy(int failureThreshold = DefaultFailureThreshold, int recoverySuccesses = DefaultRecoverySuccesses, TimeSpan? probeInterval = null)
    {
        if (failureThreshold < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(failureThreshold), failureThreshold, "The failure threshold must be 1 or more (3 is the default).");
        }

        if (recoverySuccesses < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(recoverySuccesses), recoverySuccesses, "Recovery successes must be 1 or more (2 is the default).");
        }

        TimeSpan interval = probeInterval ?? DefaultProbeInterval;
        if (interval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(probeInterval), interval, "The probe interval must be more than zero (10 s is the default).");
        }

        FailureThreshold = failureThreshold;
        DegradedThreshold = (failureThreshold + 1) / 2;
        RecoverySuccesses = recoverySuccesses;
        ProbeInterval = interval;
    }

    /// <summary>Gets the failure threshold <c>t</c>.</summary>
    /// <example><code>int t = policy.FailureThreshold;</code></example>
    public int FailureThreshold { get; }

    /// <summary>Gets <c>ceil(t/2)</c>, the consecutive failures that make a Healthy node Degraded.</summary>
    /// <example><code>int d = policy.DegradedThreshold; // 2 for t = 3</code></example>
    public int DegradedThreshold { get; }

    /// <summary>Gets the successes a Recovering node needs to become Healthy.</summary>
    /// <example><code>int r = policy.RecoverySuccesses;</code></example>
    public int RecoverySuccesses { get; }

    /// <inheritdoc/>
    public TimeSpan ProbeInterval { get; }

    /// <inheritdoc/>
    public HealthState Next(HealthState state, bool success)
    {
        int failures = success ? 0 : SaturatingIncrement(state.ConsecutiveFailures);
        switch (state.Status)
        {
            case HealthStatus.Healthy:
            case HealthStatus.Degraded:
                if (success)
                {
                    return new HealthState(HealthStatus.Healthy, 0, 0);
                }

                return new HealthState(
                    failures >= FailureThreshold ? HealthStatus.Unhealthy
                        : failures >= DegradedThreshold ? HealthStatus.Degraded
                        : HealthStatus.Healthy,
                    failures,
                    0);

            case HealthStatus.Unhealthy:
                return success
                    ? new HealthState(HealthStatus.Recovering, 0, 0)
                    : new HealthState(HealthStatus.Unhealthy, failures, 0);

            default: // Recovering
                if (!success)
                {
                    return new HealthState(HealthStatus.Unhealthy, failures, 0);
                }

                int successes = state.ConsecutiveSuccesses + 1;
                return successes >= RecoverySuccesses
                    ? new HealthState(HealthStatus.Healthy, 0, 0)
                    : new HealthState(HealthStatus.Recovering, 0, successes);
        }
    }

    private static int SaturatingIncrement(int value) => value == int.MaxValue ? value : value + 1;
}
