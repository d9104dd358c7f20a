namespace Loadwise.Redis;

/// <summary>Settings for <see cref="SharedHealth{TId}"/>.</summary>
/// <example>
/// <code>
/// var options = new SharedHealthOptions { EjectQuorum = 2, ReconcileInterval = TimeSpan.FromSeconds(1) };
/// </code>
/// </example>
public sealed class SharedHealthOptions
{
    /// <summary>
    /// Gets how many instances must see a node Unhealthy (by their own reports or probes) before every instance excludes
    /// it. 1, the default, ejects a node fleet-wide as soon as any instance ejects it; a higher number guards against one
    /// instance with a bad network path, at the price of slower ejection.
    /// </summary>
    /// <example><code>var options = new SharedHealthOptions { EjectQuorum = 2 };</code></example>
    public int EjectQuorum { get; init; } = 1;

    /// <summary>Gets how often every known node's shared state is re-read in full (announcements can be lost). Defaults to 1 second.</summary>
    /// <example><code>var options = new SharedHealthOptions { ReconcileInterval = TimeSpan.FromSeconds(5) };</code></example>
    public TimeSpan ReconcileInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets how long after an instance's last heartbeat (one per reconcile) its votes stop counting toward
    /// <see cref="EjectQuorum"/>, so that the Unhealthy vote of an instance that crashed does not count forever. Zero, the
    /// default, means three reconcile intervals; otherwise at least two.
    /// </summary>
    /// <example><code>var options = new SharedHealthOptions { EjectQuorum = 2, VoterTimeout = TimeSpan.FromSeconds(10) };</code></example>
    public TimeSpan VoterTimeout { get; init; }

    /// <summary>Gets <see cref="VoterTimeout"/> with its default applied.</summary>
    internal TimeSpan EffectiveVoterTimeout => VoterTimeout > TimeSpan.Zero ? VoterTimeout : 3 * ReconcileInterval;

    /// <summary>Throws when a setting is out of range; the message names it and the fix.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    /// <example><code>options.Validate();</code></example>
    public void Validate()
    {
        if (EjectQuorum < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(EjectQuorum), EjectQuorum, "SharedHealthOptions.EjectQuorum must be at least 1 (1 ejects on any instance's word).");
        }

        if (ReconcileInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ReconcileInterval), ReconcileInterval, "SharedHealthOptions.ReconcileInterval must be more than zero (1 s by default).");
        }

        if (VoterTimeout < TimeSpan.Zero || (VoterTimeout > TimeSpan.Zero && VoterTimeout < 2 * ReconcileInterval))
        {
            throw new ArgumentOutOfRangeException(nameof(VoterTimeout), VoterTimeout, "SharedHealthOptions.VoterTimeout must be zero (three reconcile intervals) or at least two reconcile intervals.");
        }
    }
}
