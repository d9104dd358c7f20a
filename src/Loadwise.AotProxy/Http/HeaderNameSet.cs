using System.Text;

namespace Loadwise.AotProxy.Http;

/// <summary>
/// A fixed set of header names matched the way CGI-style servers read them: case-insensitive, and with <c>_</c> the
/// same as <c>-</c> (such servers map <c>X_Forwarded_For</c> onto <c>X-Forwarded-For</c>, so a name spelled either way
/// must be caught). Names are grouped by length, so most lookups compare nothing.
/// </summary>
/// <example><code>
/// var names = new HeaderNameSet(["X-Real-IP", "Forwarded"]);
/// names.Contains("x_real_ip"u8); // true
/// </code></example>
internal sealed class HeaderNameSet
{
    private readonly byte[][][] _byLength;

    /// <summary>Creates the set from ASCII names.</summary>
    public HeaderNameSet(IEnumerable<string> names)
    {
        byte[][] normalized = [.. names.Select(static name => Normalize(Encoding.ASCII.GetBytes(name)))];
        int longest = normalized.Length == 0 ? 0 : normalized.Max(static name => name.Length);
        _byLength = new byte[longest + 1][][];
        for (int length = 0; length <= longest; length++)
        {
            _byLength[length] = [.. normalized.Where(name => name.Length == length)];
        }
    }

    /// <summary>Returns true when <paramref name="name"/> (read off the wire) is in the set.</summary>
    public bool Contains(ReadOnlySpan<byte> name)
    {
        if ((uint)name.Length >= (uint)_byLength.Length)
        {
            return false;
        }

        foreach (byte[] candidate in _byLength[name.Length])
        {
            if (EqualsNormalized(name, candidate))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Returns true when <paramref name="name"/> is in the set.</summary>
    public bool Contains(ReadOnlySpan<char> name)
    {
        if ((uint)name.Length >= (uint)_byLength.Length)
        {
            return false;
        }

        foreach (byte[] candidate in _byLength[name.Length])
        {
            bool equal = true;
            for (int i = 0; i < name.Length && equal; i++)
            {
                equal = name[i] < 128 && Normalize((byte)name[i]) == candidate[i];
            }

            if (equal)
            {
                return true;
            }
        }

        return false;
    }

    private static bool EqualsNormalized(ReadOnlySpan<byte> name, byte[] candidate)
    {
        for (int i = 0; i < name.Length; i++)
        {
            if (Normalize(name[i]) != candidate[i])
            {
                return false;
            }
        }

        return true;
    }

    private static byte[] Normalize(byte[] name)
    {
        for (int i = 0; i < name.Length; i++)
        {
            name[i] = Normalize(name[i]);
        }

        return name;
    }

    private static byte Normalize(byte b) => b == (byte)'_' ? (byte)'-' : (byte)(b is >= (byte)'A' and <= (byte)'Z' ? b + 32 : b);
}
