using System.Diagnostics.Metrics;
using System.Text;
using Loadwise.AotProxy.Metrics;

namespace Loadwise.AotProxy.UnitTests;

public sealed class PrometheusExporterTests
{
    [Theory]
    [InlineData("loadwise.requests", null, "Counter", "loadwise_requests_total")]
    [InlineData("loadwise.requests.dropped", null, "Counter", "loadwise_requests_dropped_total")]
    [InlineData("loadwise.selections", null, "Counter", "loadwise_selections_total")]
    [InlineData("loadwise.request.duration", "s", "Histogram", "loadwise_request_duration_seconds")]
    [InlineData("loadwise.active_requests", null, "Gauge", "loadwise_active_requests")]
    [InlineData("loadwise.body.size", "By", "Histogram", "loadwise_body_size_bytes")]
    [InlineData("already_total", null, "Counter", "already_total")]
    [InlineData("9-lives", "{item}", "Gauge", "_9_lives")]
    [InlineData("dotnet.timer.count", "{timer}", "Gauge", "dotnet_timer_count_value")]
    [InlineData("queue.wait.sum", "s", "Gauge", "queue_wait_sum_seconds")]
    [InlineData("batch.sum", null, "Gauge", "batch_sum_value")]
    [InlineData("dotnet.thread_pool.thread.count", "{thread}", "Counter", "dotnet_thread_pool_thread_count_total")]
    public void Names_follow_the_prometheus_conventions(string instrument, string? unit, string kind, string expected) =>
        Assert.Equal(expected, PrometheusExporter.MetricName(instrument, unit, Enum.Parse<MetricKind>(kind)));

    [Fact]
    public void Label_values_and_help_are_escaped()
    {
        var text = new StringBuilder();
        PrometheusExporter.AppendEscapedLabelValue(text, "a\"b\\c\nd");
        Assert.Equal("a\\\"b\\\\c\\nd", text.ToString());
        text.Clear();
        PrometheusExporter.AppendEscapedHelp(text, "say \"hi\"\\\n");
        Assert.Equal("say \"hi\"\\\\\\n", text.ToString());
    }

    [Fact]
    public void Scrape_writes_counters_gauges_and_cumulative_histograms()
    {
        object scope = new();
        using var meter = new Meter(new MeterOptions("Test.Exporter") { Scope = scope });
        using var exporter = new PrometheusExporter(m => ReferenceEquals(m.Scope, scope));
        Counter<long> counter = meter.CreateCounter<long>("test.hits", description: "Hits.");
        Histogram<double> histogram = meter.CreateHistogram<double>("test.latency", unit: "s", description: "Latency.");
        meter.CreateObservableGauge("test.temperature", () => new Measurement<double>(21.5, new KeyValuePair<string, object?>("room", "a\"1")), description: "Temp.");

        counter.Add(2, new KeyValuePair<string, object?>("path", "/x"));
        counter.Add(3, new KeyValuePair<string, object?>("path", "/x"));
        histogram.Record(0.001953125);
        histogram.Record(0.25);
        histogram.Record(64);

        string text = exporter.Scrape();
        Assert.Equal(
            """
            # HELP test_hits_total Hits.
            # TYPE test_hits_total counter
            test_hits_total{path="/x"} 5
            # HELP test_latency_seconds Latency.
            # TYPE test_latency_seconds histogram
            test_latency_seconds_bucket{le="0.005"} 1
            test_latency_seconds_bucket{le="0.01"} 1
            test_latency_seconds_bucket{le="0.025"} 1
            test_latency_seconds_bucket{le="0.05"} 1
            test_latency_seconds_bucket{le="0.1"} 1
            test_latency_seconds_bucket{le="0.25"} 2
            test_latency_seconds_bucket{le="0.5"} 2
            test_latency_seconds_bucket{le="1"} 2
            test_latency_seconds_bucket{le="2.5"} 2
            test_latency_seconds_bucket{le="5"} 2
            test_latency_seconds_bucket{le="10"} 2
            test_latency_seconds_bucket{le="+Inf"} 3
            test_latency_seconds_sum 64.251953125
            test_latency_seconds_count 3
            # HELP test_temperature Temp.
            # TYPE test_temperature gauge
            test_temperature{room="a\"1"} 21.5

            """.Replace("\r\n", "\n", StringComparison.Ordinal),
            text);
    }

    [Fact]
    public void Whole_number_and_fractional_steps_both_add_up()
    {
        object scope = new();
        using var meter = new Meter(new MeterOptions("Test.Steps") { Scope = scope });
        using var exporter = new PrometheusExporter(m => ReferenceEquals(m.Scope, scope));
        UpDownCounter<int> queued = meter.CreateUpDownCounter<int>("test.queued");
        Counter<double> work = meter.CreateCounter<double>("test.work");

        queued.Add(5);
        queued.Add(-7);
        work.Add(0.5);
        work.Add(0.25);

        string text = exporter.Scrape();
        Assert.Contains("\ntest_queued -2\n", text, StringComparison.Ordinal);
        Assert.Contains("\ntest_work_total 0.75\n", text, StringComparison.Ordinal);
    }
}
