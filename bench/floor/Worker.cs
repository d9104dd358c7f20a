using System.Runtime.InteropServices;
using System.Text;
using System.Net;
using Loadwise.AotProxy.EventLoop;
using static Loadwise.AotProxy.EventLoop.LoopNative;

namespace FloorProxy;

internal enum ClientState : byte { ReadHead, SendRequest, Relay }

internal enum Framing : byte { None, Length, Chunked, UntilClose }

/// <summary>What a state-machine step left: go on, wait for an epoll event, or the client connection is gone.</summary>
internal enum Step : byte { Progress, Wait, Closed }

/// <summary>What a recv or send that moved no bytes means: try again, wait for readiness, or the connection is done.</summary>
internal enum IoOutcome : byte { Interrupted, WouldBlock, Done }

/// <summary>A client connection and the one request it has in flight.</summary>
internal sealed unsafe class Client
{
    public int Fd;
    public int Slot;
    public byte[] Ip = [];
    public byte* In;             // request bytes [InStart, InEnd); pipelined requests wait here
    public int InStart, InEnd, HeadScan;
    public byte* Req;            // the rewritten request head for the backend
    public int ReqLen, ReqOff;
    public bool ReadReady, WriteReady = true;   // edge-triggered readiness, cleared on EAGAIN (or a short read)
    public bool PeerClosed;      // EPOLLRDHUP/HUP/ERR seen: no further edge will come, so a short read must not clear ReadReady
    public ClientState State;
    public Upstream? Up;
    // The request in flight.
    public bool CloseAfter, IsHead, Retried, RespHeadDone, RespDone;
    public Framing Framing;
    public long BodyLeft;
    public ChunkedScanner Chunks;
    public byte* Out;            // bytes still to send to the client (points into Up.Buf)
    public int OutLen;
}

/// <summary>A keep-alive connection to the backend; idle in the worker's pool or owned by one client.</summary>
internal sealed unsafe class Upstream
{
    public int Fd;
    public int Slot;
    public byte* Buf;            // response bytes; the head is read at Buf + HeadRoom
    public int Len;
    public bool ReadReady, WriteReady, PeerClosed, Reused, Reusable;
    public Client? Owner;
    public int PoolIndex = -1;
}

internal sealed class Listener
{
    public int Fd;
}

/// <summary>
/// One event-loop thread: its own SO_REUSEPORT listener, epoll instance (edge-triggered for connections), buffer
/// pool and idle backend connections. Nothing is shared between workers.
/// </summary>
internal sealed unsafe class Worker
{
    private const int MsgPeek = 0x2; // MSG_PEEK
    private const int BlockSize = 17 * 1024;
    private const int InCap = 16 * 1024;          // largest request head
    private const int HeadRoom = 64;              // room to grow a response head in place ("Connection: close")
    private const int RespCap = BlockSize - HeadRoom;
    private const int MaxEvents = 256;
    private const int MaxIdleUpstreams = 1024;
    private const int MaxPooledBlocks = 512;
    private const uint ConnEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

    /// <summary>What a recv or send that moved no bytes means: 0 is the peer's close; -1 is classified by errno.</summary>
    private static IoOutcome Outcome(nint result)
    {
        if (result < 0)
        {
            int err = Errno;
            if (err == EINTR)
            {
                return IoOutcome.Interrupted;
            }
            if (err == EAGAIN)
            {
                return IoOutcome.WouldBlock;
            }
        }
        return IoOutcome.Done;
    }

    private static ReadOnlySpan<byte> R400 => "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8;
    private static ReadOnlySpan<byte> R431 => "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8;
    private static ReadOnlySpan<byte> R501 => "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8;
    private static ReadOnlySpan<byte> R502 => "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8;
    private static ReadOnlySpan<byte> R505 => "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8;

    private readonly int _ep;
    private readonly Listener _listener;
    private readonly IPEndPoint _backend;
    private readonly byte[] _hostLine;
    private readonly List<Upstream> _idle = [];
    private readonly Stack<nint> _blocks = new();
    private readonly byte* _scratch;
    // Slot table: epoll data is (generation << 32 | slot), so an event queued for a connection closed earlier in the
    // same epoll_wait batch (whose fd number may already be reused) is recognised and dropped.
    private object?[] _slots = new object?[256];
    private uint[] _gens = new uint[256];
    private int[] _free = new int[256];
    private int _freeCount, _slotHigh;

    public Worker(IPEndPoint listen, IPEndPoint backend, byte[] hostLine)
    {
        _backend = backend;
        _hostLine = hostLine;
        _scratch = (byte*)NativeMemory.AlignedAlloc(BlockSize, 64);
        _ep = epoll_create1(EPOLL_CLOEXEC);
        if (_ep < 0)
        {
            throw new InvalidOperationException($"epoll_create1 failed: errno {Errno}");
        }
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new InvalidOperationException($"socket failed: errno {Errno}");
        }
        SetOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
        SetOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
        SocketAddressBuffer listenAddress;
        if (bind(fd, &listenAddress, Write(listen, &listenAddress)) != 0)
        {
            throw new InvalidOperationException($"bind failed: errno {Errno} (port in use?)");
        }
        if (LoopNative.listen(fd, 4096) != 0)
        {
            throw new InvalidOperationException($"listen failed: errno {Errno}");
        }
        _listener = new Listener { Fd = fd };
        Register(fd, AllocSlot(_listener), EPOLLIN); // level-triggered; accept drains it anyway
    }

    public void Run()
    {
        var events = (EpollEvent*)NativeMemory.Alloc((nuint)(MaxEvents * sizeof(EpollEvent)));
        while (true)
        {
            int n = epoll_wait(_ep, events, MaxEvents, -1);
            if (n < 0)
            {
                if (Errno == EINTR)
                {
                    continue;
                }
                throw new InvalidOperationException($"epoll_wait failed: errno {Errno}");
            }
            for (int i = 0; i < n; i++)
            {
                ulong data = events[i].Data;
                uint e = events[i].Events;
                int slot = (int)(uint)data;
                object? target = _slots[slot];
                if (target == null || _gens[slot] != (uint)(data >> 32))
                {
                    continue; // closed earlier in this batch
                }
                if (target is Client c)
                {
                    if ((e & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0)
                    {
                        c.ReadReady = true;
                        c.PeerClosed |= (e & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0;
                    }
                    if ((e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0)
                    {
                        c.WriteReady = true;
                    }
                    Pump(c);
                }
                else if (target is Upstream u)
                {
                    OnUpstreamEvent(u, e);
                }
                else
                {
                    AcceptAll();
                }
            }
        }
    }

    private void OnUpstreamEvent(Upstream u, uint e)
    {
        if ((e & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0)
        {
            u.ReadReady = true;
            u.PeerClosed |= (e & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0;
        }
        if ((e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0)
        {
            u.WriteReady = true;
        }
        if (u.Owner != null)
        {
            Pump(u.Owner);
            return;
        }
        // Idle: data, EOF or an error on a pooled connection means the backend closed it (or broke protocol).
        if ((e & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) == 0)
        {
            return;
        }
        byte b;
        if (recv(u.Fd, &b, 1, MsgPeek | MSG_DONTWAIT) < 0 && Errno == EAGAIN)
        {
            u.ReadReady = false; // a stale event for bytes already read
            return;
        }
        CloseUpstream(u);
    }

    private void AcceptAll()
    {
        while (true)
        {
            SocketAddressBuffer addr;
            uint len = (uint)sizeof(SocketAddressBuffer);
            int fd = accept4(_listener.Fd, &addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
            {
                int err = Errno;
                if (err == EINTR || err == 103 /* ECONNABORTED */)
                {
                    continue;
                }
                return; // EAGAIN, or EMFILE and friends: try again on the next event
            }
            SetOption(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
            var c = new Client
            {
                Fd = fd,
                Ip = Encoding.ASCII.GetBytes(Read(&addr)?.Address.ToString() ?? ""),
                In = RentBlock(),
                Req = RentBlock(),
            };
            c.Slot = AllocSlot(c);
            Register(fd, c.Slot, ConnEvents); // a request already waiting is reported by the ADD itself
        }
    }

    private void Pump(Client c)
    {
        while (true)
        {
            Step s = c.State switch
            {
                ClientState.ReadHead => ReadHead(c),
                ClientState.SendRequest => SendRequest(c),
                _ => Relay(c),
            };
            if (s != Step.Progress)
            {
                return;
            }
        }
    }

    // ---- client request ----

    private Step ReadHead(Client c)
    {
        while (true)
        {
            if (c.InEnd > c.InStart)
            {
                int from = Math.Max(c.InStart, c.HeadScan);
                int idx = new ReadOnlySpan<byte>(c.In + from, c.InEnd - from).IndexOf(Http.HeadEnd);
                if (idx >= 0)
                {
                    return StartRequest(c, from + idx + 4);
                }
                c.HeadScan = Math.Max(c.InStart, c.InEnd - 3);
                if (c.InEnd - c.InStart >= InCap)
                {
                    return RespondAndClose(c, R431);
                }
            }
            if (!c.ReadReady)
            {
                return Step.Wait;
            }
            if (c.InStart == c.InEnd)
            {
                c.InStart = c.InEnd = c.HeadScan = 0;
            }
            else if (c.InEnd == InCap)
            {
                int keep = c.InEnd - c.InStart;
                Buffer.MemoryCopy(c.In + c.InStart, c.In, InCap, keep);
                c.HeadScan -= c.InStart;
                c.InStart = 0;
                c.InEnd = keep;
            }
            int space = InCap - c.InEnd;
            nint n = recv(c.Fd, c.In + c.InEnd, (nuint)space, 0);
            if (n > 0)
            {
                c.InEnd += (int)n;
                if (n < space && !c.PeerClosed)
                {
                    c.ReadReady = false; // drained: with edge triggering, more bytes (or a FIN) bring a new event
                }
                continue;
            }
            IoOutcome outcome = Outcome(n);
            if (outcome == IoOutcome.Interrupted)
            {
                continue;
            }
            if (outcome == IoOutcome.WouldBlock)
            {
                c.ReadReady = false;
                return Step.Wait;
            }
            CloseClient(c); // EOF or a reset
            return Step.Closed;
        }
    }

    /// <summary>Parses the request head at [InStart, headEnd) and writes the backend's request head into Req.</summary>
    private Step StartRequest(Client c, int headEnd)
    {
        var head = new ReadOnlySpan<byte>(c.In + c.InStart, headEnd - c.InStart);
        int lineEnd = head.IndexOf(Http.Crlf);
        ReadOnlySpan<byte> line = head[..lineEnd];
        int sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0)
        {
            return RespondAndClose(c, R400);
        }
        ReadOnlySpan<byte> method = line[..sp1];
        ReadOnlySpan<byte> rest = line[(sp1 + 1)..];
        int sp2 = rest.IndexOf((byte)' ');
        if (sp2 <= 0)
        {
            return RespondAndClose(c, R400);
        }
        ReadOnlySpan<byte> target = rest[..sp2];
        ReadOnlySpan<byte> version = rest[(sp2 + 1)..];
        bool http11;
        if (version.SequenceEqual("HTTP/1.1"u8))
        {
            http11 = true;
        }
        else if (version.SequenceEqual("HTTP/1.0"u8))
        {
            http11 = false;
        }
        else
        {
            return RespondAndClose(c, version.StartsWith("HTTP/"u8) ? R505 : R400);
        }

        var req = new Span<byte>(c.Req, BlockSize);
        int w = 0;
        method.CopyTo(req);
        w += method.Length;
        req[w++] = (byte)' ';
        target.CopyTo(req[w..]);
        w += target.Length;
        // An HTTP/1.0 client gets an HTTP/1.0 exchange with the backend (so no chunked body comes back to it).
        ReadOnlySpan<byte> upstreamVersion = http11 ? " HTTP/1.1\r\n"u8 : " HTTP/1.0\r\n"u8;
        upstreamVersion.CopyTo(req[w..]);
        w += upstreamVersion.Length;
        _hostLine.CopyTo(req[w..]);
        w += _hostLine.Length;

        bool connectionClose = false;
        int pos = lineEnd + 2;
        int end = head.Length - 2; // the blank line
        while (pos < end)
        {
            int len = head[pos..].IndexOf(Http.Crlf);
            line = head.Slice(pos, len);
            int next = pos + len + 2;
            int colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[0] == ' ' || line[0] == '\t')
            {
                return RespondAndClose(c, R400); // no name, or obsolete line folding
            }
            ReadOnlySpan<byte> name = line[..colon];
            bool copy = true;
            switch (name.Length)
            {
                case 4 when Http.NameIs(name, "host"u8):
                    copy = false;
                    break;
                case 6 when Http.NameIs(name, "expect"u8):
                    copy = false; // no request bodies are forwarded, so no 100 Continue is wanted
                    break;
                case 10 when Http.NameIs(name, "connection"u8):
                    connectionClose |= Http.HasToken(line[(colon + 1)..], "close"u8);
                    copy = false;
                    break;
                case 10 when Http.NameIs(name, "keep-alive"u8):
                case 16 when Http.NameIs(name, "proxy-connection"u8):
                    copy = false;
                    break;
                case 14 when Http.NameIs(name, "content-length"u8):
                    if (!Http.TryParseLength(line[(colon + 1)..], out long bodyLength))
                    {
                        return RespondAndClose(c, R400);
                    }
                    if (bodyLength != 0)
                    {
                        return RespondAndClose(c, R501); // request bodies are not supported
                    }
                    break;
                case 17 when Http.NameIs(name, "transfer-encoding"u8):
                    return RespondAndClose(c, R501);
            }
            if (copy)
            {
                head.Slice(pos, len + 2).CopyTo(req[w..]);
                w += len + 2;
            }
            pos = next;
        }
        if (!http11)
        {
            "Connection: close\r\n"u8.CopyTo(req[w..]);
            w += 19;
        }
        "X-Forwarded-For: "u8.CopyTo(req[w..]);
        w += 17;
        c.Ip.CopyTo(req[w..]);
        w += c.Ip.Length;
        "\r\n\r\n"u8.CopyTo(req[w..]);
        w += 4;

        c.ReqLen = w;
        c.ReqOff = 0;
        c.IsHead = method.SequenceEqual("HEAD"u8);
        c.CloseAfter = !http11 || connectionClose;
        c.InStart = headEnd;
        c.HeadScan = headEnd;
        c.Retried = false;
        c.RespHeadDone = false;
        c.RespDone = false;
        c.OutLen = 0;
        if (!AttachUpstream(c, forceNew: false))
        {
            return RespondAndClose(c, R502);
        }
        if (!http11)
        {
            c.Up!.Reusable = false;
        }
        c.State = ClientState.SendRequest;
        return Step.Progress;
    }

    // ---- backend ----

    private bool AttachUpstream(Client c, bool forceNew)
    {
        Upstream? u;
        if (!forceNew && _idle.Count > 0)
        {
            u = _idle[^1];
            _idle.RemoveAt(_idle.Count - 1);
            u.PoolIndex = -1;
            u.Reused = true;
        }
        else
        {
            u = Connect();
            if (u == null)
            {
                return false;
            }
        }
        u.Owner = c;
        u.Len = 0;
        u.Reusable = true;
        c.Up = u;
        return true;
    }

    private Upstream? Connect()
    {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            return null;
        }
        SetOption(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
        SocketAddressBuffer addr;
        int r = connect(fd, &addr, Write(_backend, &addr));
        if (r != 0 && Errno != EINPROGRESS)
        {
            close(fd);
            return null;
        }
        var u = new Upstream { Fd = fd, Buf = RentBlock(), WriteReady = r == 0 };
        u.Slot = AllocSlot(u);
        Register(fd, u.Slot, ConnEvents); // EPOLLOUT reports the connect's completion
        return u;
    }

    private Step SendRequest(Client c)
    {
        Upstream u = c.Up!;
        while (c.ReqOff < c.ReqLen)
        {
            if (!u.WriteReady)
            {
                return Step.Wait;
            }
            nint n = send(u.Fd, c.Req + c.ReqOff, (nuint)(c.ReqLen - c.ReqOff), MSG_NOSIGNAL);
            if (n >= 0)
            {
                c.ReqOff += (int)n;
                continue;
            }
            IoOutcome outcome = Outcome(n);
            if (outcome == IoOutcome.WouldBlock)
            {
                u.WriteReady = false;
                return Step.Wait;
            }
            if (outcome != IoOutcome.Interrupted)
            {
                return UpstreamFailed(c);
            }
        }
        c.State = ClientState.Relay;
        return Step.Progress;
    }

    /// <summary>Relays the backend's response to the client: one buffer at a time, reading on only once it is sent.</summary>
    private Step Relay(Client c)
    {
        Upstream u = c.Up!;
        while (true)
        {
            if (c.OutLen > 0)
            {
                if (!c.WriteReady)
                {
                    return Step.Wait;
                }
                nint n = send(c.Fd, c.Out, (nuint)c.OutLen, MSG_NOSIGNAL);
                if (n >= 0)
                {
                    c.Out += n;
                    c.OutLen -= (int)n;
                    continue;
                }
                IoOutcome outcome = Outcome(n);
                if (outcome == IoOutcome.Interrupted)
                {
                    continue;
                }
                if (outcome == IoOutcome.WouldBlock)
                {
                    c.WriteReady = false;
                    return Step.Wait;
                }
                CloseClient(c);
                return Step.Closed;
            }
            if (c.RespDone)
            {
                return FinishResponse(c);
            }
            if (!u.ReadReady)
            {
                return Step.Wait;
            }
            if (!c.RespHeadDone)
            {
                int space = RespCap - u.Len;
                if (space == 0)
                {
                    return RespondAndClose(c, R502); // response head too large
                }
                nint n = recv(u.Fd, u.Buf + HeadRoom + u.Len, (nuint)space, 0);
                if (n > 0)
                {
                    int old = u.Len;
                    u.Len += (int)n;
                    if (n < space && !u.PeerClosed)
                    {
                        u.ReadReady = false;
                    }
                    int from = Math.Max(0, old - 3);
                    int idx = new ReadOnlySpan<byte>(u.Buf + HeadRoom + from, u.Len - from).IndexOf(Http.HeadEnd);
                    if (idx >= 0 && !StartResponse(c, u, from + idx + 4))
                    {
                        return RespondAndClose(c, R502);
                    }
                    continue;
                }
                IoOutcome outcome = Outcome(n);
                if (outcome == IoOutcome.Interrupted)
                {
                    continue;
                }
                if (outcome == IoOutcome.WouldBlock)
                {
                    u.ReadReady = false;
                    return Step.Wait;
                }
                return UpstreamFailed(c);
            }
            else
            {
                nint n = recv(u.Fd, u.Buf, BlockSize, 0);
                if (n > 0)
                {
                    if (n < BlockSize && !u.PeerClosed)
                    {
                        u.ReadReady = false;
                    }
                    int take = ConsumeBody(c, u, u.Buf, (int)n);
                    if (take < 0)
                    {
                        CloseClient(c);
                        return Step.Closed;
                    }
                    c.Out = u.Buf;
                    c.OutLen = take;
                    continue;
                }
                if (n == 0 && c.Framing == Framing.UntilClose)
                {
                    c.RespDone = true;
                    u.Reusable = false;
                    continue;
                }
                IoOutcome outcome = Outcome(n);
                if (outcome == IoOutcome.Interrupted)
                {
                    continue;
                }
                if (outcome == IoOutcome.WouldBlock)
                {
                    u.ReadReady = false;
                    return Step.Wait;
                }
                CloseClient(c); // the body was cut short: the client sees the connection close
                return Step.Closed;
            }
        }
    }

    /// <summary>Parses the response head (Buf + HeadRoom, headLen bytes) and sets up the relay of head and body.</summary>
    private bool StartResponse(Client c, Upstream u, int headLen)
    {
        var head = new ReadOnlySpan<byte>(u.Buf + HeadRoom, headLen);
        if (headLen < 16 || !head.StartsWith("HTTP/1."u8) || head[8] != ' ')
        {
            return false;
        }
        int status = 0;
        for (int i = 9; i < 12; i++)
        {
            uint d = (uint)(head[i] - '0');
            if (d > 9)
            {
                return false;
            }
            status = status * 10 + (int)d;
        }
        if (status < 200)
        {
            return false; // 1xx interim responses are not supported
        }
        if (head[7] != '1')
        {
            u.Reusable = false; // an HTTP/1.0 backend closes after the response
        }
        long contentLength = -1;
        bool transferEncoding = false, chunked = false;
        int pos = head.IndexOf(Http.Crlf) + 2;
        int end = headLen - 2;
        while (pos < end)
        {
            int len = head[pos..].IndexOf(Http.Crlf);
            ReadOnlySpan<byte> line = head.Slice(pos, len);
            pos += len + 2;
            int colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                return false;
            }
            ReadOnlySpan<byte> name = line[..colon];
            ReadOnlySpan<byte> value = line[(colon + 1)..];
            switch (name.Length)
            {
                case 14 when Http.NameIs(name, "content-length"u8):
                    if (!Http.TryParseLength(value, out long v) || (contentLength >= 0 && v != contentLength))
                    {
                        return false;
                    }
                    contentLength = v;
                    break;
                case 17 when Http.NameIs(name, "transfer-encoding"u8):
                    transferEncoding = true;
                    chunked = Http.LastTokenIsChunked(value);
                    break;
                case 10 when Http.NameIs(name, "connection"u8):
                    if (Http.HasToken(value, "close"u8))
                    {
                        u.Reusable = false;
                    }
                    break;
            }
        }
        if (c.IsHead || status == 204 || status == 304)
        {
            c.Framing = Framing.None;
        }
        else if (transferEncoding)
        {
            c.Framing = chunked ? Framing.Chunked : Framing.UntilClose;
            c.Chunks.Reset();
        }
        else if (contentLength >= 0)
        {
            c.Framing = Framing.Length;
            c.BodyLeft = contentLength;
        }
        else
        {
            c.Framing = Framing.UntilClose;
        }
        if (c.Framing == Framing.UntilClose)
        {
            c.CloseAfter = true;
            u.Reusable = false;
        }

        // The head goes through as the backend sent it, except when this client connection closes after the
        // response: then its Connection/Keep-Alive headers are replaced by "Connection: close".
        int start = c.CloseAfter ? RewriteHeadForClose(u, headLen) : HeadRoom;
        int bodyStart = HeadRoom + headLen;
        int take = ConsumeBody(c, u, u.Buf + bodyStart, HeadRoom + u.Len - bodyStart);
        if (take < 0)
        {
            return false;
        }
        c.Out = u.Buf + start;
        c.OutLen = bodyStart - start + take;
        c.RespHeadDone = true;
        return true;
    }

    /// <summary>Rewrites the head so it still ends where it ended (the body stays put); returns its new start.</summary>
    private int RewriteHeadForClose(Upstream u, int headLen)
    {
        var head = new ReadOnlySpan<byte>(u.Buf + HeadRoom, headLen);
        var outHead = new Span<byte>(_scratch, BlockSize);
        int lineEnd = head.IndexOf(Http.Crlf) + 2;
        head[..lineEnd].CopyTo(outHead);
        int w = lineEnd;
        int pos = lineEnd;
        while (pos < headLen - 2)
        {
            int len = head[pos..].IndexOf(Http.Crlf);
            ReadOnlySpan<byte> line = head.Slice(pos, len);
            int colon = line.IndexOf((byte)':');
            ReadOnlySpan<byte> name = line[..colon];
            if (!Http.NameIs(name, "connection"u8) && !Http.NameIs(name, "keep-alive"u8))
            {
                head.Slice(pos, len + 2).CopyTo(outHead[w..]);
                w += len + 2;
            }
            pos += len + 2;
        }
        "Connection: close\r\n\r\n"u8.CopyTo(outHead[w..]);
        w += 21;
        int start = HeadRoom + headLen - w; // w <= headLen + 19 < headLen + HeadRoom
        outHead[..w].CopyTo(new Span<byte>(u.Buf + start, w));
        return start;
    }

    /// <summary>How many of n body bytes belong to this response (-1: broken chunked framing); marks the end.</summary>
    private static int ConsumeBody(Client c, Upstream u, byte* p, int n)
    {
        switch (c.Framing)
        {
            case Framing.None:
                c.RespDone = true;
                if (n > 0)
                {
                    u.Reusable = false; // bytes after a body-less response: do not trust this connection again
                }
                return 0;
            case Framing.Length:
                int take = (int)Math.Min(n, c.BodyLeft);
                c.BodyLeft -= take;
                if (take < n)
                {
                    u.Reusable = false;
                }
                if (c.BodyLeft == 0)
                {
                    c.RespDone = true;
                }
                return take;
            case Framing.Chunked:
                int k = c.Chunks.Feed(p, n);
                if (k < 0)
                {
                    u.Reusable = false;
                    return -1;
                }
                if (c.Chunks.Done)
                {
                    c.RespDone = true;
                    if (k < n)
                    {
                        u.Reusable = false;
                    }
                }
                return k;
            default:
                return n;
        }
    }

    private Step FinishResponse(Client c)
    {
        Upstream u = c.Up!;
        c.Up = null;
        u.Owner = null;
        if (u.Reusable && !u.PeerClosed && _idle.Count < MaxIdleUpstreams)
        {
            u.PoolIndex = _idle.Count;
            _idle.Add(u);
        }
        else
        {
            CloseUpstream(u);
        }
        c.State = ClientState.ReadHead;
        c.OutLen = 0;
        if (c.CloseAfter)
        {
            CloseClient(c);
            return Step.Closed;
        }
        return Step.Progress;
    }

    /// <summary>
    /// The backend connection failed before a response head arrived. A pooled connection the backend had already
    /// closed gets one retry on a fresh connection (the request has no body, so resending it is safe); else 502.
    /// </summary>
    private Step UpstreamFailed(Client c)
    {
        Upstream u = c.Up!;
        bool retry = u.Reused && !c.Retried && u.Len == 0 && !c.RespHeadDone;
        c.Up = null;
        CloseUpstream(u);
        if (retry && AttachUpstream(c, forceNew: true))
        {
            c.Retried = true;
            c.ReqOff = 0;
            c.State = ClientState.SendRequest;
            return Step.Progress;
        }
        if (c.RespHeadDone)
        {
            CloseClient(c);
            return Step.Closed;
        }
        return RespondAndClose(c, R502);
    }

    // ---- bookkeeping ----

    private Step RespondAndClose(Client c, ReadOnlySpan<byte> response)
    {
        fixed (byte* p = response)
        {
            send(c.Fd, p, (nuint)response.Length, MSG_NOSIGNAL); // best effort; the connection closes either way
        }
        CloseClient(c);
        return Step.Closed;
    }

    private void CloseClient(Client c)
    {
        if (c.Up != null)
        {
            CloseUpstream(c.Up); // mid-exchange: the backend connection's state is unknown
            c.Up = null;
        }
        close(c.Fd);
        FreeSlot(c.Slot);
        ReturnBlock(c.In);
        ReturnBlock(c.Req);
        c.In = c.Req = null;
        c.Fd = -1;
    }

    private void CloseUpstream(Upstream u)
    {
        if (u.PoolIndex >= 0)
        {
            Upstream last = _idle[^1];
            _idle[u.PoolIndex] = last;
            last.PoolIndex = u.PoolIndex;
            _idle.RemoveAt(_idle.Count - 1);
            u.PoolIndex = -1;
        }
        u.Owner = null;
        close(u.Fd);
        FreeSlot(u.Slot);
        ReturnBlock(u.Buf);
        u.Buf = null;
        u.Fd = -1;
    }

    private void Register(int fd, int slot, uint events)
    {
        var ev = new EpollEvent { Events = events, Data = ((ulong)_gens[slot] << 32) | (uint)slot };
        if (epoll_ctl(_ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        {
            throw new InvalidOperationException($"epoll_ctl ADD failed: errno {Errno}");
        }
    }

    private int AllocSlot(object o)
    {
        int s;
        if (_freeCount > 0)
        {
            s = _free[--_freeCount];
        }
        else
        {
            if (_slotHigh == _slots.Length)
            {
                Array.Resize(ref _slots, _slots.Length * 2);
                Array.Resize(ref _gens, _gens.Length * 2);
                Array.Resize(ref _free, _free.Length * 2);
            }
            s = _slotHigh++;
        }
        _slots[s] = o;
        return s;
    }

    private void FreeSlot(int s)
    {
        _slots[s] = null;
        _gens[s]++;
        _free[_freeCount++] = s;
    }

    private byte* RentBlock() => _blocks.Count > 0 ? (byte*)_blocks.Pop() : (byte*)NativeMemory.AlignedAlloc(BlockSize, 64);

    private void ReturnBlock(byte* block)
    {
        if (_blocks.Count < MaxPooledBlocks)
        {
            _blocks.Push((nint)block);
        }
        else
        {
            NativeMemory.AlignedFree(block);
        }
    }
}
