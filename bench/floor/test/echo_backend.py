import socket, threading
def handle(s):
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d: s.close(); return
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        path = head.split(b" ")[1]
        body = head + b"\r\n\r\n"
        if path == b"/chunked":
            parts = [body[:10], body[10:]]
            msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\nX-Trailer: t\r\n\r\n"
            s.sendall(msg[:20]); s.sendall(msg[20:])
        elif path == b"/close":
            s.sendall(b"HTTP/1.1 200 OK\r\n\r\n" + body); s.close(); return
        elif path == b"/big":
            n = 5_000_000
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n + b"y" * n)
        elif path == b"/204":
            s.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        elif path == b"/dropidle":
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body); s.close(); return
        else:
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: keep-alive\r\n\r\n" % len(body) + body)
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); ls.bind(("127.0.0.1", 9282)); ls.listen(128)
while True:
    c, _ = ls.accept(); threading.Thread(target=handle, args=(c,), daemon=True).start()
