import socket, time, sys
port = int(sys.argv[1])
def raw(chunks, delay=0.0, wait=1.0):
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(wait)
    for c in chunks:
        s.sendall(c); time.sleep(delay)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d: out += b"<EOF>"; break
            out += d
    except ConnectionResetError:
        out += b"<RST>"
    except socket.timeout:
        out += b"<open>"
    s.close(); return out
def show(title, out):
    lines = [l for l in out.split(b"\r\n") if l.startswith((b"HTTP/", b"GET ", b"Connection", b"<"))]
    print("---", title); [print("  ", l.decode(errors='replace')) for l in lines]
    tail = out[-7:]
    if tail in (b"<EOF>", b"<open>") and tail not in b"".join(lines): print("  ", tail.decode())
show("pipelined 3, last Connection: close", raw([b"GET /p1 HTTP/1.1\r\nHost: a\r\n\r\nGET /p2 HTTP/1.1\r\nHost: a\r\n\r\nGET /p3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"]))
show("garbage", raw([b"GARBAGE\r\n\r\n"]))
show("HTTP/2.0 version", raw([b"GET / HTTP/2.0\r\n\r\n"]))
show("split head", raw([b"GET /split HTTP/1.1\r\nHo", b"st: a\r\n\r", b"\n"], delay=0.2))
show("oversized head", raw([b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"]))
show("keep-alive stays open", raw([b"GET /ka HTTP/1.1\r\nHost: a\r\n\r\n"], wait=0.5))
def halfclose():
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(2)
    s.sendall(b"GET /hc HTTP/1.1\r\nHost: a\r\n\r\n"); s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        d = s.recv(65536)
        if not d: return out + b"<EOF>"
        out += d
show("half-close after request", halfclose())
