using System.Runtime.CompilerServices;
using System.Text;

namespace Loadwise.AotProxy.Metrics;

/// <summary>One exported metric: its series, found by tag values without allocating once they exist.</summary>
internal sealed class MetricFamily(string name, string help, MetricKind kind, bool isObservable, double[] buckets)
{
    private readonly Lock _addLock = new();
    private Series[] _series = [];

    // The series by a hash of their tag values, so that a record finds its series in one lookup however many
    // backends there are (a scan compared every series' tags: 10x slower at 50 backends). Rebuilt on each add.
    private Dictionary<int, Series[]> _byHash = [];

    public string Name { get; } = name;

    public MetricKind Kind { get; } = kind;

    /// <summary>Gets whether values come from callbacks at scrape time (the value is set, not added).</summary>
    public bool IsObservable { get; } = isObservable;

    public void Clear()
    {
        lock (_addLock)
        {
            Volatile.Write(ref _byHash, []);
            Volatile.Write(ref _series, []);
        }
    }

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
        if (Volatile.Read(ref _byHash).TryGetValue(HashOf(tags), out Series[]? candidates))
        {
            foreach (Series series in candidates)
            {
                if (series.Matches(tags))
                {
                    return series;
                }
            }
        }

        return null;
    }

    /// <summary>A hash of the tag values that ignores their order, as <see cref="Series.Matches"/> does.</summary>
    private static int HashOf(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        int hash = tags.Length;
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            hash += tag.Value?.GetHashCode() ?? 0;
        }

        return hash;
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
            int hash = HashOf(tags);
            var byHash = new Dictionary<int, Series[]>(_byHash);
            byHash[hash] = byHash.TryGetValue(hash, out Series[]? same) ? [.. same, series] : [series];
            Volatile.Write(ref _byHash, byHash);
            Volatile.Write(ref _series, [.. _series, series]);
            return series;
        }
    }
}
