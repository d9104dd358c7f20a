using System.Net;
using System.Net.Sockets;

namespace Loadwise.AotProxy.Http;

/// <summary>
/// The X-Forwarded-* rules. A peer inside a trusted network is another proxy: its X-Forwarded-For is kept and this
/// hop's peer appended, and its X-Forwarded-Proto/-Host are kept. Any other peer's X-Forwarded-* headers are replaced,
/// so a client cannot forge its address to the backends.
/// </summary>
internal sealed class ForwardedHeaders
{
    public const string ForwardedFor = "X-Forwarded-For";
    public const string ForwardedProto = "X-Forwarded-Proto";
    public const string ForwardedHost = "X-Forwarded-Host";

    /// <summary>
    /// The headers removed by default from untrusted peers' requests: the other forwarding headers backends and
    /// frameworks read for the client's address, scheme, port or path prefix.
    /// </summary>
    public static readonly IReadOnlyList<string> DefaultUntrusted =
        ["Forwarded", "X-Real-IP", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Ssl", "X-Forwarded-Scheme", "X-Client-IP", "True-Client-IP"];

    private readonly IPNetwork[] _trusted;

    /// <summary>Creates the rules for the <paramref name="trusted"/> networks; <paramref name="untrusted"/> null for <see cref="DefaultUntrusted"/>.</summary>
    public ForwardedHeaders(IPNetwork[] trusted, IEnumerable<string>? untrusted = null)
    {
        _trusted = trusted;
        Untrusted = new HeaderNameSet([.. untrusted ?? DefaultUntrusted, ForwardedFor, ForwardedProto, ForwardedHost]);
    }

    /// <summary>
    /// Gets the headers never forwarded from an untrusted peer: the configured ones and X-Forwarded-For, -Proto and
    /// -Host, however spelled (<c>X_Forwarded_For</c> too).
    /// </summary>
    public HeaderNameSet Untrusted { get; }

    /// <summary>Parses a CIDR (<c>10.0.0.0/8</c>) or a single address (<c>10.1.2.3</c>, taken as /32 or /128).</summary>
    public static bool TryParseNetwork(string? text, out IPNetwork network)
    {
        network = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        if (text.Contains('/', StringComparison.Ordinal))
        {
            return IPNetwork.TryParse(text, out network);
        }

        if (!IPAddress.TryParse(text, out IPAddress? address))
        {
            return false;
        }

        network = new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
        return true;
    }

    /// <summary>
    /// Returns the client's address: the connection's peer, unless the peer is a trusted proxy, in which case the
    /// rightmost address in <c>X-Forwarded-For</c> that is not itself a trusted proxy (the leftmost one when all are).
    /// A client that is not a trusted proxy cannot move itself by sending <c>X-Forwarded-For</c>.
    /// </summary>
    public IPAddress? ResolveClient(IPAddress? peer, ReadOnlySpan<char> forwardedFor)
    {
        if (!IsTrusted(peer) || forwardedFor.IsEmpty)
        {
            return peer;
        }

        IPAddress? leftmost = null;
        while (!forwardedFor.IsEmpty)
        {
            int comma = forwardedFor.LastIndexOf(',');
            ReadOnlySpan<char> entry = forwardedFor[(comma + 1)..].Trim();
            forwardedFor = comma < 0 ? default : forwardedFor[..comma];
            if (!IPAddress.TryParse(entry, out IPAddress? address))
            {
                // Not an address (e.g. "unknown" or a port suffix): the chain cannot be followed further.
                return leftmost ?? peer;
            }

            if (!IsTrusted(address))
            {
                return address;
            }

            leftmost = address;
        }

        return leftmost ?? peer;
    }

    /// <summary>How a peer address is written into X-Forwarded-For: IPv4-mapped addresses as IPv4, none as <c>unknown</c>.</summary>
    public static string PeerText(IPAddress? peer) => peer is null ? "unknown" : (peer.IsIPv4MappedToIPv6 ? peer.MapToIPv4() : peer).ToString();

    /// <summary>
    /// The X-Forwarded-* values to send: from a trusted peer its chain is extended (For) or kept (Proto, Host); from
    /// anyone else they describe this hop only. <paramref name="host"/> is null when there is none. The incoming values
    /// are only read when <paramref name="trusted"/>.
    /// </summary>
    public static void Resolve(
        bool trusted,
        string peerText,
        string? incomingFor,
        string? incomingProto,
        string? incomingHost,
        string scheme,
        string? requestHost,
        out string forwardedFor,
        out string proto,
        out string? host)
    {
        forwardedFor = trusted && !string.IsNullOrEmpty(incomingFor) ? string.Concat(incomingFor, ", ", peerText) : peerText;
        proto = trusted && !string.IsNullOrEmpty(incomingProto) ? incomingProto : scheme;
        host = trusted && !string.IsNullOrEmpty(incomingHost) ? incomingHost : requestHost;
        if (string.IsNullOrEmpty(host))
        {
            host = null;
        }
    }

    /// <summary>The X-Forwarded-* values to send for a request Kestrel parsed (<see cref="Resolve"/>).</summary>
    public void ValuesFor(HttpContext context, out string forwardedFor, out string proto, out string? host)
    {
        IHeaderDictionary incoming = context.Request.Headers;
        IPAddress? peer = context.Connection.RemoteIpAddress;
        bool trusted = IsTrusted(peer);
        Resolve(
            trusted,
            PeerText(peer),
            trusted ? incoming[ForwardedFor].ToString() : null,
            trusted ? incoming[ForwardedProto].ToString() : null,
            trusted ? incoming[ForwardedHost].ToString() : null,
            context.Request.Scheme,
            context.Request.Host.Value,
            out forwardedFor,
            out proto,
            out host);
    }

    /// <summary>Returns true when <paramref name="peer"/> is in a trusted-proxy network.</summary>
    public bool IsTrusted(IPAddress? peer)
    {
        if (peer is null || _trusted.Length == 0)
        {
            return false;
        }

        if (peer.IsIPv4MappedToIPv6)
        {
            peer = peer.MapToIPv4();
        }

        foreach (IPNetwork network in _trusted)
        {
            if (network.Contains(peer))
            {
                return true;
            }
        }

        return false;
    }
}
