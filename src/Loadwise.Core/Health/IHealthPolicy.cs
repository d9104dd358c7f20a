namespace Loadwise;

/// <summary>
/// A node's health state as a policy sees it: the status and the current run of consecutive failures or successes.
/// Policies are pure functions from a state and an outcome to the next state, which is what makes them easy to test.
/// </summary>
/// <param name="Status">The node's status.</param>
/// <param name="ConsecutiveFailures">Failures since the last success.</param>
/// <param name="ConsecutiveSuccesses">Successes counted towards leaving <see cref="HealthStatus.Recovering"/> (policies may use it otherwise).</param>
/// <example><code>HealthState next = policy.Next(HealthState.Initial, success: false);</code></example>
public readonly record struct HealthState(HealthStatus Status, int ConsecutiveFailures, int ConsecutiveSuccesses)
{
    /// <summary>Gets the state of a node never reported on: Healthy, no counts.</summary>
    /// <example><code>var state = HealthState.Initial;</code></example>
    public static HealthState Initial => default;
}

/// <summary>
/// Decides a node's health from the outcomes reported for it. <see cref="HealthTracker{TId}"/> calls
/// <see cref="Next"/> under the node's lock for each success or failure (rate-limited outcomes never reach the
/// policy). <see cref="Next"/> must be a pure function of its arguments: after each change the tracker also asks it
/// what a success would do, and while the answer is "nothing" a success is recorded without the lock.
/// <see cref="ConsecutiveFailurePolicy"/> is the default.
/// </summary>
/// <example>
/// <code>
/// public sealed class NeverUnhealthy : IHealthPolicy
/// {
///     public TimeSpan ProbeInterval => TimeSpan.FromSeconds(5);
///     public HealthState Next(HealthState state, bool success) =>
///         new(success ? HealthStatus.Healthy : HealthStatus.Degraded, 0, 0);
/// }
/// </code>
/// </example>
public interface IHealthPolicy
{
    /// <summary>Gets how long an Unhealthy node waits between probes.</summary>
    /// <example><code>TimeSpan every = policy.ProbeInterval;</code></example>
    TimeSpan ProbeInterval { get; }

    /// <summary>Returns the state after one more outcome.</summary>
    /// <param name="state">The current state.</param>
    /// <param name="success">True for a success, false for a failure.</param>
    /// <returns>The next state.</returns>
    /// <example><code>var state = policy.Next(HealthState.Initial, success: false);</code></example>
    HealthState Next(HealthState state, bool success);
}
