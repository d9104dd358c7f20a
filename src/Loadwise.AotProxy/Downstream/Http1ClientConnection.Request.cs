using System.Text;
using Loadwise.AotProxy.Http;

namespace Loadwise.AotProxy.Downstream;

/// <summary>The upstream request head a codec connection writes from the bytes its client sent.</summary>
internal sealed partial class Http1ClientConnection
{
    private const string Scheme = "http";

    private readonly string _peerText;
    private string? _hostText;
    private byte[] _hostBytes = [];
    private byte[] _forwardedLines = [];
    private string? _forwardedLinesHost;

    public void WriteRequestHead(ref HttpOutputBuffer writer, in UpstreamTarget target)
    {
        ReadOnlySpan<byte> request = _request.Span;
        writer.Append(_head.MethodPrefix);
        writer.Append(target.BasePath);
        writer.Append(Target);
        writer.Append(" HTTP/1.1\r\nHost: "u8);
        ReadOnlySpan<byte> host = _head.Fields[_head.HostField].Value(request);
        if (target.PreserveHost)
        {
            writer.Append(host);
        }
        else
        {
            writer.Append(target.Authority);
        }

        writer.Append("\r\n"u8);
        bool xForwarded = target.XForwarded;
        HeaderNameSet? untrusted = _peerTrusted ? null : target.Forwarded.Untrusted;
        foreach (HeaderField field in _head.Fields)
        {
            ReadOnlySpan<byte> name = field.Name(request);
            if (HeaderRules.SkipRequestHeader(name, null, xForwarded, untrusted))
            {
                continue;
            }

            writer.AppendField(name, field.Value(request));
        }

        if (xForwarded)
        {
            writer.Append(ForwardedLines(host));
        }

        writer.Append("\r\n"u8);
    }

    /// <summary>The request's Host as a string, kept across requests: a connection almost always sends the same one.</summary>
    private string HostText(ReadOnlySpan<byte> host)
    {
        if (_hostText is null || !host.SequenceEqual(_hostBytes))
        {
            _hostBytes = host.ToArray();
            _hostText = Encoding.Latin1.GetString(host);
        }

        return _hostText;
    }

    /// <summary>
    /// The X-Forwarded-* lines for this request. From an untrusted peer they depend only on the Host, so the encoded
    /// lines are kept across the connection's requests; a trusted peer's chain is read from each request.
    /// </summary>
    private ReadOnlySpan<byte> ForwardedLines(ReadOnlySpan<byte> host)
    {
        string hostText = HostText(host);
        if (!_peerTrusted && ReferenceEquals(_forwardedLinesHost, hostText))
        {
            return _forwardedLines;
        }

        ForwardedHeaders.Resolve(
            _peerTrusted,
            _peerText,
            _peerTrusted ? Header(ForwardedHeaders.ForwardedFor).ToString() : null,
            _peerTrusted ? Header(ForwardedHeaders.ForwardedProto).ToString() : null,
            _peerTrusted ? Header(ForwardedHeaders.ForwardedHost).ToString() : null,
            Scheme,
            hostText,
            out string forwardedFor,
            out string proto,
            out string? forwardedHost);
        var lines = new HttpOutputBuffer(256);
        try
        {
            lines.AppendHeader(ForwardedHeaders.ForwardedFor, forwardedFor);
            lines.AppendHeader(ForwardedHeaders.ForwardedProto, proto);
            if (forwardedHost is not null)
            {
                lines.AppendHeader(ForwardedHeaders.ForwardedHost, forwardedHost);
            }

            _forwardedLines = lines.Written.ToArray();
        }
        finally
        {
            lines.Dispose();
        }

        _forwardedLinesHost = _peerTrusted ? null : hostText;
        return _forwardedLines;
    }
}
