using System.Net.Security;
using System.Security.Authentication;
using Loadwise.AotProxy.Configuration;

namespace Loadwise.AotProxy.Tls;

/// <summary>
/// The certificates of one https:// listener, chosen per handshake by the client's server name (SNI, RFC 6066
/// section 3): an exact name first, then a wildcard one label up (<c>*.example.com</c> serves <c>a.example.com</c>, not
/// <c>a.b.example.com</c> nor <c>example.com</c>, as RFC 6125 section 6.4.3 matches), then the default. The table is
/// swapped whole on reload; a handshake reads the table in force, and connections already open keep their session.
/// </summary>
/// <example><code>
/// var certificates = new ListenerCertificates(listenerOptions);
/// SslServerAuthenticationOptions handshake = certificates.Select("api.example.com");
/// </code></example>
internal sealed class ListenerCertificates
{
    private readonly TlsListenerOptions _options;
    private readonly ServerCertificate[] _loaded;
    private volatile Table _table;

    /// <summary>Loads every certificate of the listener.</summary>
    /// <exception cref="CertificateLoadException">One of them did not load (the proxy does not start).</exception>
    public ListenerCertificates(TlsListenerOptions options)
    {
        _options = options;
        _loaded = [.. options.Certificates.Select(c => ServerCertificate.Load(c, options.Http2))];
        _table = Build();
    }

    /// <summary>Gets the listen URL these certificates serve.</summary>
    public string Url => _options.Url!;

    /// <summary>Gets the files the certificates were loaded from (a change to one of them reloads).</summary>
    public IEnumerable<string> Files => _options.Certificates.SelectMany(static c => new[] { c.CertificateFile, c.KeyFile, c.PfxFile, c.PfxPasswordFile }).OfType<string>();

    /// <summary>Gets the handshake for <paramref name="serverName"/> (null or empty: the client sent none).</summary>
    /// <exception cref="AuthenticationException">No certificate serves the name and there is no default: the handshake is refused.</exception>
    public SslServerAuthenticationOptions Select(string? serverName)
    {
        Table table = _table;
        if (!string.IsNullOrEmpty(serverName))
        {
            string name = serverName.TrimEnd('.');
            if (table.Exact.GetValueOrDefault(name) is { } exact)
            {
                return exact.Handshake;
            }

            int dot = name.IndexOf('.', StringComparison.Ordinal);
            if (dot > 0 && table.Wildcard.GetValueOrDefault(name[(dot + 1)..]) is { } wildcard)
            {
                return wildcard.Handshake;
            }
        }

        return table.Default?.Handshake ?? throw new AuthenticationException($"no certificate for server name '{serverName}' and no default certificate");
    }

    /// <summary>
    /// Loads every certificate again. One that does not load keeps the one in use and is reported in
    /// <paramref name="failures"/>; the others are swapped in.
    /// </summary>
    /// <returns>How many certificates changed (a different thumbprint).</returns>
    public int Reload(List<CertificateLoadException> failures)
    {
        int changed = 0;
        for (int i = 0; i < _loaded.Length; i++)
        {
            try
            {
                ServerCertificate next = ServerCertificate.Load(_options.Certificates[i], _options.Http2);
                if (next.Leaf.Thumbprint != _loaded[i].Leaf.Thumbprint)
                {
                    _loaded[i] = next;
                    changed++;
                }
            }
            catch (CertificateLoadException e)
            {
                failures.Add(e);
            }
        }

        if (changed > 0)
        {
            _table = Build();
        }

        return changed;
    }

    /// <summary>Gets the certificate served for <paramref name="serverName"/>, for tests and the log (null: none).</summary>
    internal string? ThumbprintFor(string? serverName)
    {
        try
        {
            return Select(serverName).ServerCertificateContext!.TargetCertificate.Thumbprint;
        }
        catch (AuthenticationException)
        {
            return null;
        }
    }

    private Table Build()
    {
        var table = new Table();
        for (int i = 0; i < _loaded.Length; i++)
        {
            List<string> hosts = _options.Certificates[i].Hosts;
            if (hosts.Count == 0)
            {
                table.Default ??= _loaded[i];
            }

            foreach (string host in hosts)
            {
                // The first certificate that lists a name serves it, in configuration order.
                if (host.StartsWith("*.", StringComparison.Ordinal))
                {
                    table.Wildcard.TryAdd(host[2..], _loaded[i]);
                }
                else
                {
                    table.Exact.TryAdd(host, _loaded[i]);
                }
            }
        }

        return table;
    }

    private sealed class Table
    {
        // Host names compare without case (RFC 4343).
        public Dictionary<string, ServerCertificate> Exact { get; } = new(StringComparer.OrdinalIgnoreCase);

        public Dictionary<string, ServerCertificate> Wildcard { get; } = new(StringComparer.OrdinalIgnoreCase);

        public ServerCertificate? Default { get; set; }
    }
}
