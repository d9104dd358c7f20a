using System.Security.Cryptography;
using System.Text;

namespace Loadwise.AotProxy.Configuration;

/// <summary>
/// The admin API's bearer token, from a file or an environment variable, checked in constant time (a comparison that
/// stopped at the first wrong byte would tell an attacker, by its timing, how many leading bytes were right).
/// </summary>
/// <example><code>
/// AdminToken? token = AdminToken.From(options.Admin);
/// bool allowed = token is null || token.Allows(request.Headers.Authorization);
/// </code></example>
internal sealed class AdminToken
{
    /// <summary>The shortest token accepted: 16 bytes, about 96 bits when drawn from base64.</summary>
    public const int MinLength = 16;

    private readonly byte[] _expected;

    private AdminToken(string token) => _expected = Encoding.UTF8.GetBytes("Bearer " + token);

    /// <summary>Gets the token of <paramref name="admin"/>, or null when none is configured (validated options only).</summary>
    public static AdminToken? From(AdminOptions admin) =>
        TryRead(admin.TokenFile, admin.TokenEnvironmentVariable, out string? token, out _) && token is not null ? new AdminToken(token) : null;

    /// <summary>Reads the token from <paramref name="file"/> or <paramref name="variable"/>; false with the problem when it cannot.</summary>
    public static bool TryRead(string? file, string? variable, out string? token, out string? problem)
    {
        token = null;
        problem = null;
        string? text;
        if (file is not null)
        {
            try
            {
                text = File.ReadAllText(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                problem = $"a readable file holding the token ({e.Message})";
                return false;
            }
        }
        else if (variable is not null)
        {
            text = Environment.GetEnvironmentVariable(variable);
            if (text is null)
            {
                problem = "the name of a set environment variable holding the token";
                return false;
            }
        }
        else
        {
            return true;
        }

        text = text.Trim();
        if (text.Length < MinLength || text.Any(char.IsWhiteSpace))
        {
            problem = $"a token of at least {MinLength} characters without spaces (e.g. from `openssl rand -base64 24`)";
            return false;
        }

        token = text;
        return true;
    }

    /// <summary>Whether an <c>Authorization</c> header value carries the token.</summary>
    public bool Allows(string? authorization)
    {
        if (authorization is null)
        {
            return false;
        }

        byte[] given = Encoding.UTF8.GetBytes(authorization.Trim());
        return CryptographicOperations.FixedTimeEquals(given, _expected);
    }
}
