using System.Diagnostics.Metrics;

namespace Loadwise.AotProxy.Metrics;

/// <summary>
/// INTERIM: records Core's agreed instrument <c>loadwise.selections</c> (Meter <c>Loadwise</c>, tag <c>strategy</c>)
/// from the proxy side until Core's own metrics collector (issue 3) publishes it. When Core records selections itself,
/// delete this class and its one call in <see cref="Forwarding.ProxyForwarder"/>; the exporter already listens to Core's
/// meter, so <c>loadwise_selections_total</c> keeps its name.
/// </summary>
internal sealed class InterimSelectionMetrics : IDisposable
{
    public const string CoreMeterName = "Loadwise";

    private readonly Counter<long> _selections;
    private readonly KeyValuePair<string, object?> _strategyTag;

    public InterimSelectionMetrics(object scope, string strategyName)
    {
        Meter = new Meter(new MeterOptions(CoreMeterName) { Scope = scope });
        _selections = Meter.CreateCounter<long>("loadwise.selections", description: "Backend picks made, by strategy.");
        _strategyTag = new KeyValuePair<string, object?>("strategy", strategyName);
    }

    public Meter Meter { get; }

    public void Selected() => _selections.Add(1, _strategyTag);

    public void Dispose() => Meter.Dispose();
}
