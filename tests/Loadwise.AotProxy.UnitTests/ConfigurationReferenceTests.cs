using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Loadwise.AotProxy.Configuration;
using Loadwise.Tests.Shared;

namespace Loadwise.AotProxy.UnitTests;

/// <summary>
/// docs/proxy/configuration.md against <see cref="ProxyOptions"/>: the binder binds public properties, so the option
/// classes' properties are the keys. Every key has one row, every row names a key, and each row's type and default are
/// the ones the code has. Adding, renaming or re-defaulting a key without its row fails here, naming the key.
/// </summary>
public sealed partial class ConfigurationReferenceTests
{
    private const string Page = "docs/proxy/configuration.md";

    [Fact]
    public void Every_key_of_ProxyOptions_has_a_row()
    {
        Dictionary<string, Row> rows = Rows();
        string[] missing = [.. Keys().Select(k => k.Path).Where(path => !rows.ContainsKey(path))];
        Assert.True(missing.Length == 0, $"{Page} has no row for: {string.Join(", ", missing)}");
    }

    [Fact]
    public void Every_row_names_a_key_of_ProxyOptions()
    {
        HashSet<string> keys = [.. Keys().Select(k => k.Path)];
        string[] stale = [.. Rows().Keys.Where(path => !keys.Contains(path))];
        Assert.True(stale.Length == 0, $"{Page} documents keys the proxy does not bind (renamed or removed?): {string.Join(", ", stale)}");
    }

    [Fact]
    public void Each_row_gives_the_key_s_type_and_default()
    {
        Dictionary<string, Row> rows = Rows();
        var wrong = new List<string>();
        foreach (Key key in Keys())
        {
            if (!rows.TryGetValue(key.Path, out Row? row))
            {
                continue; // reported by Every_key_of_ProxyOptions_has_a_row
            }

            string type = TypeName(key.Property.PropertyType);
            if (row.Type != type)
            {
                wrong.Add($"{key.Path}: type '{row.Type}', the code has '{type}'");
            }

            string? actual = Format(key.Property.GetValue(key.Owner));
            Match code = CodeSpan().Match(row.Default);
            if (code.Success ? code.Groups[1].Value != actual : actual is not null)
            {
                wrong.Add($"{key.Path}: default '{row.Default}', the code has {(actual is null ? "none" : $"`{actual}`")}");
            }
        }

        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void Each_key_has_one_row_with_a_rule_and_a_meaning()
    {
        var seen = new HashSet<string>();
        var problems = new List<string>();
        foreach (Row row in ParseRows())
        {
            if (!seen.Add(row.Key))
            {
                problems.Add($"{row.Key}: two rows");
            }

            if (row.Allowed.Length == 0 || row.Meaning.Length < 10)
            {
                problems.Add($"{row.Key}: the allowed values or the meaning are empty");
            }
        }

        Assert.True(seen.Count > 50, $"only {seen.Count} rows parsed from {Page}: has the table's format changed?");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>One bound key: its path as the configuration spells it, the property, and the object holding its default.</summary>
    private sealed record Key(string Path, PropertyInfo Property, object Owner);

    /// <summary>One row of the reference table.</summary>
    private sealed record Row(string Key, string Type, string Default, string Allowed, string Meaning);

    /// <summary>Every key the binder fills, walked from a default <see cref="ProxyOptions"/> (list items as <c>N</c>).</summary>
    private static List<Key> Keys()
    {
        var keys = new List<Key>();
        Walk(new ProxyOptions(), prefix: "", keys);
        Assert.True(keys.Count > 50, "the walk over ProxyOptions found too few keys");
        return keys;
    }

    private static void Walk(object section, string prefix, List<Key> keys)
    {
        foreach (PropertyInfo property in section.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            string path = prefix + property.Name;
            Type type = property.PropertyType;
            if (IsSection(type))
            {
                Walk(property.GetValue(section)!, path + ":", keys);
                continue;
            }

            keys.Add(new Key(path, property, section));
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) && IsSection(type.GetGenericArguments()[0]))
            {
                Walk(Activator.CreateInstance(type.GetGenericArguments()[0])!, path + ":N:", keys);
            }
        }
    }

    /// <summary>An option class: its keys are nested under its property's name.</summary>
    private static bool IsSection(Type type) =>
        type.IsClass && type.Namespace is { } ns && ns.StartsWith("Loadwise.AotProxy", StringComparison.Ordinal) && type.Name.EndsWith("Options", StringComparison.Ordinal);

    private static string TypeName(Type type)
    {
        Type plain = Nullable.GetUnderlyingType(type) ?? type;
        if (plain.IsGenericType && plain.GetGenericTypeDefinition() == typeof(List<>))
        {
            Type item = plain.GetGenericArguments()[0];
            return item == typeof(string) ? "list of strings" : "list of " + item.Name.Replace("Options", "", StringComparison.Ordinal).ToLowerInvariant() + "s";
        }

        return Type.GetTypeCode(plain) switch
        {
            TypeCode.Boolean => "boolean",
            TypeCode.Int32 or TypeCode.Int64 or TypeCode.UInt64 => "integer",
            TypeCode.Double => "number",
            TypeCode.String => "string",
            _ => throw new InvalidOperationException($"no documented type name for {type}: add one here and in {Page}"),
        };
    }

    /// <summary>The default as the page writes it in code, or null when the key has none (unset, or an empty list for a required key).</summary>
    private static string? Format(object? value) => value switch
    {
        null => null,
        bool b => b ? "true" : "false",
        IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
        string s => s,
        IList { Count: 0 } => null,
        IList list => "[" + string.Join(", ", list.Cast<object>()) + "]",
        _ => value.ToString(),
    };

    private static Dictionary<string, Row> Rows()
    {
        var rows = new Dictionary<string, Row>();
        foreach (Row row in ParseRows())
        {
            rows.TryAdd(row.Key, row);
        }

        return rows;
    }

    /// <summary>Rows of the form <c>| `Key:Path` | type | default | allowed | meaning |</c>.</summary>
    private static IEnumerable<Row> ParseRows()
    {
        foreach (string line in File.ReadLines(Path.Combine(RepositoryRoot.Path, Page)))
        {
            Match key = KeyCell().Match(line);
            if (!key.Success)
            {
                continue;
            }

            string[] cells = [.. line.Trim().Trim('|').Split('|').Select(c => c.Trim())];
            Assert.True(cells.Length == 5, $"{Page}: the row for {key.Groups[1].Value} has {cells.Length} cells, expected 5 (key, type, default, allowed, meaning)");
            yield return new Row(key.Groups[1].Value, cells[1], cells[2], cells[3], cells[4]);
        }
    }

    [GeneratedRegex(@"^\|\s*`([A-Za-z][A-Za-z0-9:]*)`\s*\|")]
    private static partial Regex KeyCell();

    [GeneratedRegex("`([^`]*)`")]
    private static partial Regex CodeSpan();
}
