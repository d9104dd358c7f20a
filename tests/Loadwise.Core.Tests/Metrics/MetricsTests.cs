using System.Diagnostics.Metrics;

namespace Loadwise.Tests.Metrics;

public class MetricsTests
{
    private sealed class Recorded
    {
        public List<(string Instrument, long Value, Dictionary<string, object?> Tags)> Measurements { get; } = [];
    }

    private static MeterListener Listen(DiagnosticsMetricsCollector collector, Recorded recorded)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, collector.Meter))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(recorded, instrument, value, tags));
        listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Add(recorded, instrument, value, tags));
        listener.Start();
        return listener;
    }

    private static void Add(Recorded recorded, Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>();
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        lock (recorded)
        {
            recorded.Measurements.Add((instrument.Name, value, copy));
        }
    }

    [Fact]
    public void Built_in_collector_records_the_agreed_instruments()
    {
        using var collector = new DiagnosticsMetricsCollector();
        Assert.Equal("Loadwise", collector.Meter.Name);
        var recorded = new Recorded();
        using MeterListener listener = Listen(collector, recorded);

        var tracker = new HealthTracker<string>(new HealthTrackerOptions { Metrics = collector, Policy = new ConsecutiveFailurePolicy(1) });
        collector.ObserveNodes(tracker);
        Backend[] nodes = HealthNodes.Make(4);
        var strategy = new InstrumentedStrategy<Backend, RoundRobin<Backend>>(new RoundRobin<Backend>(), collector);
        for (int i = 0; i < 5; i++)
        {
            Assert.True(strategy.TrySelect(nodes, SelectionContext.Empty, out _));
        }

        tracker.ReportFailure("n0");
        tracker.ReportFailure("n1");
        tracker.ReportSuccess("n1");
        tracker.GetHandle("n2");
        listener.RecordObservableInstruments();

        var selections = recorded.Measurements.Where(m => m.Instrument == "loadwise.selections").ToList();
        Assert.Equal(5, selections.Sum(m => m.Value));
        Assert.All(selections, m => Assert.Equal("RoundRobin", m.Tags["strategy"]));

        var transitions = recorded.Measurements.Where(m => m.Instrument == "loadwise.health.transitions")
            .Select(m => ((string?)m.Tags["from"], (string?)m.Tags["to"])).ToList();
        Assert.Equal([("healthy", "unhealthy"), ("healthy", "unhealthy"), ("unhealthy", "recovering")], transitions);

        var nodesByStatus = recorded.Measurements.Where(m => m.Instrument == "loadwise.nodes")
            .ToDictionary(m => (string)m.Tags["status"]!, m => m.Value);
        Assert.Equal(new Dictionary<string, long> { ["healthy"] = 1, ["degraded"] = 0, ["unhealthy"] = 1, ["recovering"] = 1 }, nodesByStatus);

        collector.OnStateStoreError("put", "k", new InvalidOperationException());
        Assert.Contains(recorded.Measurements, m => m.Instrument == "loadwise.state_store.errors" && (string?)m.Tags["operation"] == "put");
    }

    [Fact]
    public void Instrumented_strategy_reports_each_pick_by_strategy_name()
    {
        var metrics = new RecordingMetrics();
        Backend[] nodes = HealthNodes.Make(3);
        var strategy = new InstrumentedStrategy<Backend, RoundRobin<Backend>>(new RoundRobin<Backend>(), metrics);
        Assert.Equal("RoundRobin", strategy.Name);
        for (int i = 0; i < 4; i++)
        {
            Assert.True(strategy.TrySelect(nodes, SelectionContext.Empty, out _));
        }

        Assert.Equal(["RoundRobin", "RoundRobin", "RoundRobin", "RoundRobin"], metrics.Selections);
        Assert.False(strategy.TrySelect([], SelectionContext.Empty, out _));
        Assert.Equal(4, metrics.Selections.Count); // no pick, no report
    }

    [Fact]
    public void Health_status_names_are_the_lower_case_names_indexed_by_status()
    {
        Assert.Equal(["healthy", "degraded", "unhealthy", "recovering"], Enum.GetValues<HealthStatus>().Select(s => s.ToName()));
        Assert.Equal(Enum.GetValues<HealthStatus>().Select(s => s.ToName()), HealthStatusNames.All);
        var error = Assert.Throws<ArgumentOutOfRangeException>("status", () => ((HealthStatus)9).ToName());
        Assert.Contains("Recovering", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_op_collector_is_the_default_and_costs_no_allocation()
    {
        Assert.Same(NoOpMetricsCollector.Instance, new HealthTrackerOptions().Metrics);

        // It sits on every pick and report by default: value-type ids must not be boxed, nothing may be kept.
        IMetricsCollector metrics = NoOpMetricsCollector.Instance;
        var error = new InvalidOperationException();
        void Calls(int count)
        {
            for (int i = 0; i < count; i++)
            {
                metrics.OnSelected("RoundRobin");
                metrics.OnSelected("Random");
                metrics.OnHealthChanged(i, HealthStatus.Healthy, HealthStatus.Degraded);
                metrics.OnStateStoreError("put", "k", error);
            }
        }

        Calls(100);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Calls(10_000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        // A tracker on the default hook still decides and reports status changes itself.
        var tracker = new HealthTracker<int>(new HealthTrackerOptions { Policy = new ConsecutiveFailurePolicy(1) });
        var changes = new List<HealthStatus>();
        tracker.HealthChanged += (_, e) => changes.Add(e.To);
        tracker.ReportFailure(7);
        Assert.Equal([HealthStatus.Unhealthy], changes);
    }
}
