using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Loadwise.AotProxy.Metrics;

/// <summary>
/// Collects <see cref="System.Diagnostics.Metrics"/> instruments through a <see cref="MeterListener"/> and writes them
/// in the Prometheus text exposition format 0.0.4. Generic over instruments: the name's dots become underscores, a
/// unit of <c>s</c> adds <c>_seconds</c> (<c>By</c>: <c>_bytes</c>), counters end in <c>_total</c>, and a gauge whose
/// name would end in <c>_count</c>, <c>_sum</c> or <c>_bucket</c> (suffixes Prometheus keeps for a histogram's series;
/// <c>promtool check metrics</c> rejects them elsewhere) gets <c>_value</c>, as the runtime's <c>dotnet.timer.count</c>
/// becomes <c>dotnet_timer_count_value</c>; counters become
/// <c>counter</c>, up-down counters and gauges <c>gauge</c>, histograms <c>histogram</c> with cumulative buckets.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Prometheus client libraries' default buckets, in seconds.</summary>
    private static readonly double[] DefaultBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Func<Meter, bool> _include;
    private readonly MeterListener _listener;
    private readonly Lock _lock = new();
    private readonly List<MetricFamily> _families = [];

    /// <summary>Starts listening to every instrument whose meter <paramref name="include"/> accepts.</summary>
    public PrometheusExporter(Func<Meter, bool> include)
    {
        _include = include;
        _listener = new MeterListener { InstrumentPublished = OnInstrumentPublished };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<short>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<byte>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>Observes the observable instruments and returns the whole exposition.</summary>
    public string Scrape()
    {
        lock (_lock)
        {
            foreach (MetricFamily family in _families)
            {
                if (family.IsObservable)
                {
                    family.Clear();
                }
            }

            _listener.RecordObservableInstruments();
            var text = new StringBuilder(4096);
            foreach (MetricFamily family in _families)
            {
                family.WriteTo(text);
            }

            return text.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>Maps an instrument name and unit to a Prometheus metric name (see the class summary).</summary>
    internal static string MetricName(string instrumentName, string? unit, MetricKind kind)
    {
        var name = new StringBuilder(instrumentName.Length + 16);
        foreach (char c in instrumentName)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or ':' ? c : '_');
        }

        if (name.Length == 0 || char.IsAsciiDigit(name[0]))
        {
            name.Insert(0, '_');
        }

        string? unitSuffix = unit switch
        {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            "By" => "_bytes",
            _ => null,
        };
        AppendSuffix(name, unitSuffix);
        AppendSuffix(name, kind == MetricKind.Counter ? "_total" : null);
        if (kind == MetricKind.Gauge && name.ToString() is string gauge
            && (gauge.EndsWith("_count", StringComparison.Ordinal) || gauge.EndsWith("_sum", StringComparison.Ordinal) || gauge.EndsWith("_bucket", StringComparison.Ordinal)))
        {
            name.Append("_value");
        }

        return name.ToString();

        static void AppendSuffix(StringBuilder name, string? suffix)
        {
            if (suffix is not null && !name.ToString().EndsWith(suffix, StringComparison.Ordinal))
            {
                name.Append(suffix);
            }
        }
    }

    internal static void AppendEscapedLabelValue(StringBuilder text, string value)
    {
        foreach (char c in value)
        {
            _ = c switch
            {
                '\\' => text.Append("\\\\"),
                '"' => text.Append("\\\""),
                '\n' => text.Append("\\n"),
                _ => text.Append(c),
            };
        }
    }

    internal static void AppendEscapedHelp(StringBuilder text, string value)
    {
        foreach (char c in value)
        {
            _ = c switch
            {
                '\\' => text.Append("\\\\"),
                '\n' => text.Append("\\n"),
                _ => text.Append(c),
            };
        }
    }

    internal static void AppendNumber(StringBuilder text, double value)
    {
        if (double.IsPositiveInfinity(value))
        {
            text.Append("+Inf");
        }
        else if (double.IsNegativeInfinity(value))
        {
            text.Append("-Inf");
        }
        else if (double.IsNaN(value))
        {
            text.Append("NaN");
        }
        else
        {
            text.Append(value.ToString(CultureInfo.InvariantCulture));
        }
    }

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        if (!_include(instrument.Meter))
        {
            return;
        }

        MetricKind kind = KindOf(instrument, out bool observable);
        string name = MetricName(instrument.Name, instrument.Unit, kind);
        MetricFamily? family;
        lock (_lock)
        {
            family = _families.Find(f => f.Name == name);
            if (family is null)
            {
                family = new MetricFamily(name, instrument.Description ?? instrument.Name, kind, observable, BucketsOf(instrument));
                _families.Add(family);
            }
            else if (family.Kind != kind || family.IsObservable != observable)
            {
                return; // Two instruments map to one name with different types: keep the first, never emit a broken family.
            }
        }

        listener.EnableMeasurementEvents(instrument, family);
    }

    private static MetricKind KindOf(Instrument instrument, out bool observable)
    {
        observable = instrument.IsObservable;
        Type definition = instrument.GetType().GetGenericTypeDefinition();
        if (definition == typeof(Counter<>) || definition == typeof(ObservableCounter<>))
        {
            return MetricKind.Counter;
        }

        return definition == typeof(Histogram<>) ? MetricKind.Histogram : MetricKind.Gauge;
    }

    private static double[] BucketsOf(Instrument instrument) => instrument switch
    {
        Histogram<double> { Advice.HistogramBucketBoundaries: { Count: > 0 } bounds } => [.. bounds],
        Histogram<long> { Advice.HistogramBucketBoundaries: { Count: > 0 } bounds } => [.. bounds.Select(static b => (double)b)],
        Histogram<int> { Advice.HistogramBucketBoundaries: { Count: > 0 } bounds } => [.. bounds.Select(static b => (double)b)],
        _ => DefaultBuckets,
    };
}

/// <summary>The Prometheus metric types the exporter writes.</summary>
internal enum MetricKind
{
    Counter,
    Gauge,
    Histogram,
}
