using System.Text;

namespace Loadwise.Generators;

/// <summary>Writes C# source line by line with four-space indentation and '\n' line endings on every platform.</summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder _builder = new();
    private int _indent;

    public void WriteLine(string line)
    {
        if (line.Length > 0)
        {
            _builder.Append(' ', _indent * 4);
            _builder.Append(line);
        }

        _builder.Append('\n');
    }

    public void WriteLine() => _builder.Append('\n');

    /// <summary>Writes "{" and indents.</summary>
    public void OpenBlock()
    {
        WriteLine("{");
        _indent++;
    }

    /// <summary>Outdents and writes "}".</summary>
    public void CloseBlock()
    {
        _indent--;
        WriteLine("}");
    }

    public override string ToString() => _builder.ToString();
}
