namespace Loadwise.Redis;

/// <summary>What <see cref="SharedQuota{TId}"/> does while Redis is out.</summary>
/// <example><code>var options = new SharedQuotaOptions { OutagePolicy = QuotaOutagePolicy.FailClosed };</code></example>
public enum QuotaOutagePolicy
{
    /// <summary>Keeps admitting, each instance against <see cref="SharedQuotaOptions.LocalShare"/> of every limit, counted locally.</summary>
    FailOpenAtLocalShare = 0,

    /// <summary>Admits nothing until Redis answers (never over a provider's limit; unavailable while Redis is).</summary>
    FailClosed = 1,
}

/// <summary>Where a <see cref="SharedQuotaCharge"/>'s decision was made.</summary>
/// <example><code>if (charge.Source == QuotaChargeSource.Local) { /* Redis was out */ }</code></example>
public enum QuotaChargeSource
{
    /// <summary>Denied while Redis was out (<see cref="QuotaOutagePolicy.FailClosed"/>).</summary>
    None = 0,

    /// <summary>Checked and charged by one script in Redis.</summary>
    Redis = 1,

    /// <summary>Taken from this instance's lease (itself charged in Redis beforehand).</summary>
    Lease = 2,

    /// <summary>Checked and charged against this instance's local share, Redis being out.</summary>
    Local = 3,
}

/// <summary>Settings for <see cref="SharedQuota{TId}"/>.</summary>
/// <example>
/// <code>
/// var options = new SharedQuotaOptions { OutagePolicy = QuotaOutagePolicy.FailOpenAtLocalShare, LocalShare = 1.0 / 4 };
/// </code>
/// </example>
public sealed class SharedQuotaOptions
{
    /// <summary>Gets what happens while Redis is out; defaults to <see cref="QuotaOutagePolicy.FailOpenAtLocalShare"/>.</summary>
    /// <example><code>var options = new SharedQuotaOptions { OutagePolicy = QuotaOutagePolicy.FailClosed };</code></example>
    public QuotaOutagePolicy OutagePolicy { get; init; } = QuotaOutagePolicy.FailOpenAtLocalShare;

    /// <summary>
    /// Gets the share of each limit one instance may use on its own while Redis is out (with n instances, 1/n keeps the
    /// fleet under the limit). Defaults to 0.25. More than 0 and at most 1.
    /// </summary>
    /// <example><code>var options = new SharedQuotaOptions { LocalShare = 1.0 / 3 };</code></example>
    public double LocalShare { get; init; } = 0.25;

    /// <summary>
    /// Gets the share of each limit an instance leases from Redis at once and then spends locally, without a round trip
    /// per charge; 0 (the default) for none: every charge is one script in Redis. Leases are charged in Redis before they
    /// are spent, so the fleet still never exceeds a limit; the price is that quota leased by one instance and not
    /// used is unavailable to the others until it is given back (at its next lease, within the window) or its window
    /// ends: up to instances × lease per window can go unused. At most 0.5.
    /// </summary>
    /// <example><code>var options = new SharedQuotaOptions { LeaseFraction = 0.01 }; // 1% of each limit per lease</code></example>
    public double LeaseFraction { get; init; }

    /// <summary>Throws when a setting is out of range; the message names it and the fix.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    /// <example><code>options.Validate();</code></example>
    public void Validate()
    {
        if (!Enum.IsDefined(OutagePolicy))
        {
            throw new ArgumentOutOfRangeException(nameof(OutagePolicy), OutagePolicy, "Use QuotaOutagePolicy.FailOpenAtLocalShare or QuotaOutagePolicy.FailClosed.");
        }

        if (!(LocalShare > 0 && LocalShare <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(LocalShare), LocalShare, "SharedQuotaOptions.LocalShare must be more than 0 and at most 1 (for example 1 / instances).");
        }

        if (!(LeaseFraction >= 0 && LeaseFraction <= 0.5))
        {
            throw new ArgumentOutOfRangeException(nameof(LeaseFraction), LeaseFraction, "SharedQuotaOptions.LeaseFraction must be from 0 (no leasing) to 0.5.");
        }
    }
}
