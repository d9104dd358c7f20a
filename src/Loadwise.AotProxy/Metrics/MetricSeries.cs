using System.Globalization;
using System.Text;
using Loadwise.AotProxy.Threading;

namespace Loadwise.AotProxy.Metrics;

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
