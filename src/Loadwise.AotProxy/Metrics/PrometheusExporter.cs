using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Loadwise.AotProxy.Threading;

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

/// <summary>One exported metric: its series, found by tag values without allocating once they exist.</summary>
internal sealed class MetricFamily(string name, string help, MetricKind kind, bool isObservable, double[] buckets)
{
    private readonly Lock _addLock = new();
    private Series[] _series = [];

    public string Name { get; } = name;

    public MetricKind Kind { get; } = kind;

    /// <summary>Gets whether values come from callbacks at scrape time (the value is set, not added).</summary>
    public bool IsObservable { get; } = isObservable;

    public void Clear() => Volatile.Write(ref _series, []);

    /// <summary>Records a whole-number measurement: a counter's or up-down counter's step goes to an integer cell, one atomic add instead of a compare-exchange loop on a double.</summary>
    public void Record(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (Kind == MetricKind.Histogram || IsObservable)
        {
            Record((double)value, tags);
            return;
        }

        (Find(tags) ?? Add(tags)).AddInteger(value);
    }

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        Series series = Find(tags) ?? Add(tags);
        if (Kind == MetricKind.Histogram)
        {
            series.Observe(value, buckets);
        }
        else if (IsObservable)
        {
            series.Set(value);
        }
        else
        {
            series.Add(value);
        }
    }

    public void WriteTo(StringBuilder text)
    {
        text.Append("# HELP ").Append(Name).Append(' ');
        PrometheusExporter.AppendEscapedHelp(text, help);
        text.Append('\n').Append("# TYPE ").Append(Name).Append(' ').Append(Kind switch
        {
            MetricKind.Counter => "counter",
            MetricKind.Histogram => "histogram",
            _ => "gauge",
        }).Append('\n');

        foreach (Series series in Volatile.Read(ref _series))
        {
            if (Kind != MetricKind.Histogram)
            {
                text.Append(Name);
                AppendLabels(text, series.Labels, null);
                text.Append(' ');
                PrometheusExporter.AppendNumber(text, series.Value);
                text.Append('\n');
                continue;
            }

            long[] counts = series.BucketCounts();
            long cumulative = 0;
            for (int i = 0; i <= buckets.Length; i++)
            {
                cumulative += counts[i];
                text.Append(Name).Append("_bucket");
                AppendLabels(text, series.Labels, i < buckets.Length ? buckets[i] : double.PositiveInfinity);
                text.Append(' ').Append(cumulative).Append('\n');
            }

            text.Append(Name).Append("_sum");
            AppendLabels(text, series.Labels, null);
            text.Append(' ');
            PrometheusExporter.AppendNumber(text, series.Sum);
            text.Append('\n').Append(Name).Append("_count");
            AppendLabels(text, series.Labels, null);
            // The +Inf bucket and _count must agree, so both come from the same snapshot of the counts.
            text.Append(' ').Append(cumulative).Append('\n');
        }
    }

    private static void AppendLabels(StringBuilder text, string labels, double? le)
    {
        if (labels.Length == 0 && le is null)
        {
            return;
        }

        text.Append('{').Append(labels);
        if (le is { } bound)
        {
            text.Append(labels.Length == 0 ? "le=\"" : ",le=\"");
            PrometheusExporter.AppendNumber(text, bound);
            text.Append('"');
        }

        text.Append('}');
    }

    private Series? Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (Series series in Volatile.Read(ref _series))
        {
            if (series.Matches(tags))
            {
                return series;
            }
        }

        return null;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private Series Add(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        lock (_addLock)
        {
            if (Find(tags) is { } existing)
            {
                return existing;
            }

            var series = new Series(tags.ToArray(), Kind == MetricKind.Histogram ? buckets.Length + 1 : 0, IsObservable);
            Volatile.Write(ref _series, [.. _series, series]);
            return series;
        }
    }
}

/// <summary>
/// One labelled series: a value (counter or gauge) or bucket counts with a sum (histogram). Recorded values go to
/// per-core cells (<see cref="PerCoreCells"/>): every request records into the same few series from every core.
/// </summary>
internal sealed class Series
{
    /// <summary>Cell 0: the running value, or a histogram's sum (double bits); cells 1 and up: the bucket counts.</summary>
    private const int ValueCell = 0;

    /// <summary>A counter's or gauge's cell 1: the whole-number steps, added as integers (the value is both cells' sum).</summary>
    private const int IntegerCell = 1;

    private readonly KeyValuePair<string, object?>[] _tags;
    private readonly PerCoreCells? _cells;
    private readonly int _bucketCount;
    private long _setBits;

    /// <summary>Creates a series; an <paramref name="observed"/> one (set at each scrape, made anew each time) needs no cells.</summary>
    public Series(KeyValuePair<string, object?>[] tags, int bucketCount, bool observed)
    {
        _tags = tags;
        _bucketCount = bucketCount;
        _cells = observed ? null : new PerCoreCells(bucketCount == 0 ? 2 : 1 + bucketCount);
        Labels = FormatLabels(tags);
    }

    /// <summary>Gets the label text, <c>a="x",b="y"</c>, sorted by name and escaped; empty without tags.</summary>
    public string Labels { get; }

    public double Value => _cells is null ? BitConverter.Int64BitsToDouble(Volatile.Read(ref _setBits))
        : _cells.SumDouble(ValueCell) + (_bucketCount == 0 ? _cells.Sum(IntegerCell) : 0);

    public double Sum => _cells?.SumDouble(ValueCell) ?? 0;

    private PerCoreCells Cells => _cells ?? throw new InvalidOperationException("an observed series is set, not added to");

    public bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length != _tags.Length)
        {
            return false;
        }

        for (int i = 0; i < tags.Length; i++)
        {
            // Callers pass tags in a fixed order, so the same position usually holds the same key.
            KeyValuePair<string, object?> mine = _tags[i];
            if (!ReferenceEquals(mine.Key, tags[i].Key) && !string.Equals(mine.Key, tags[i].Key, StringComparison.Ordinal))
            {
                return MatchesAnyOrder(tags);
            }

            if (!ReferenceEquals(mine.Value, tags[i].Value) && !Equals(mine.Value, tags[i].Value))
            {
                return false;
            }
        }

        return true;
    }

    public void Add(double delta) => Cells.AddDouble(ValueCell, delta);

    /// <summary>Adds a whole-number step to a counter or gauge.</summary>
    public void AddInteger(long delta) => Cells.Add(IntegerCell, delta);

    /// <summary>Sets the value of an observed gauge or counter (observations replace, never add).</summary>
    public void Set(double value) => Volatile.Write(ref _setBits, BitConverter.DoubleToInt64Bits(value));

    public void Observe(double value, double[] bounds)
    {
        int bucket = 0;
        while (bucket < bounds.Length && value > bounds[bucket])
        {
            bucket++;
        }

        Cells.Add(1 + bucket, 1);
        Cells.AddDouble(ValueCell, value);
    }

    /// <summary>Gets one snapshot of the bucket counts (the last is +Inf).</summary>
    public long[] BucketCounts()
    {
        var counts = new long[_bucketCount];
        for (int i = 0; i < counts.Length; i++)
        {
            counts[i] = Cells.Sum(1 + i);
        }

        return counts;
    }

    private bool MatchesAnyOrder(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            int i = Array.FindIndex(_tags, t => t.Key == tag.Key);
            if (i < 0 || !Equals(_tags[i].Value, tag.Value))
            {
                return false;
            }
        }

        return true;
    }

    private static string FormatLabels(KeyValuePair<string, object?>[] tags)
    {
        if (tags.Length == 0)
        {
            return string.Empty;
        }

        var sorted = (KeyValuePair<string, object?>[])tags.Clone();
        Array.Sort(sorted, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var text = new StringBuilder();
        foreach (KeyValuePair<string, object?> tag in sorted)
        {
            if (text.Length > 0)
            {
                text.Append(',');
            }

            foreach (char c in tag.Key)
            {
                text.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
            }

            text.Append("=\"");
            PrometheusExporter.AppendEscapedLabelValue(text, Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? string.Empty);
            text.Append('"');
        }

        return text.ToString();
    }
}
