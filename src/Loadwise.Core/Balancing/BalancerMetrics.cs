using System.Diagnostics.Metrics;

namespace Loadwise;

/// <summary>
/// A balancer's instruments on <c>System.Diagnostics.Metrics</c> (meter <see cref="LoadBalancer.MeterName"/>), with
/// every tag built once: recording a pick is one enabled check and, with a listener, one allocation-free add.
/// </summary>
internal sealed class BalancerMetrics
{
    private static readonly Meter SharedMeter = new(LoadBalancer.MeterName);
    private static readonly KeyValuePair<string, object?> Picked = new("result", "picked");
    private static readonly KeyValuePair<string, object?> NoneAvailable = new("result", "none_available");
    private static readonly KeyValuePair<string, object?> Success = new("outcome", "success");
    private static readonly KeyValuePair<string, object?> Failure = new("outcome", "failure");
    private static readonly KeyValuePair<string, object?> RateLimited = new("outcome", "rate_limited");
    private static readonly KeyValuePair<string, object?> Unreported = new("outcome", "unreported");

    private readonly Counter<long> _picks;
    private readonly Counter<long> _outcomes;
    private readonly KeyValuePair<string, object?> _balancer;
    private readonly KeyValuePair<string, object?> _strategy;

    public BalancerMetrics(string balancer, string strategy, IMeterFactory? meterFactory)
    {
        Meter meter = meterFactory?.Create(new MeterOptions(LoadBalancer.MeterName)) ?? SharedMeter;
        _picks = meter.CreateCounter<long>(LoadBalancer.PicksInstrument, unit: "{pick}", description: "Picks made by a load balancer, by result.");
        _outcomes = meter.CreateCounter<long>(LoadBalancer.OutcomesInstrument, unit: "{request}", description: "Leases released, by reported outcome.");
        _balancer = new("balancer", balancer);
        _strategy = new("strategy", strategy);
    }

    public void OnPicked()
    {
        if (_picks.Enabled)
        {
            _picks.Add(1, _balancer, _strategy, Picked);
        }
    }

    public void OnNoneAvailable()
    {
        if (_picks.Enabled)
        {
            _picks.Add(1, _balancer, _strategy, NoneAvailable);
        }
    }

    public void OnReleased(Outcome? outcome)
    {
        if (_outcomes.Enabled)
        {
            KeyValuePair<string, object?> tag = outcome?.Kind switch
            {
                null => Unreported,
                OutcomeKind.Success => Success,
                OutcomeKind.RateLimited => RateLimited,
                _ => Failure,
            };
            _outcomes.Add(1, _balancer, tag);
        }
    }
}
