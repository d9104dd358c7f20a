#!/usr/bin/env python3
"""A backend that reads every request body to its end (Content-Length or chunked) before answering 200 "ok",
keep-alive, one thread per connection. For upload benchmarks: nginx's `return 200` answers before the body arrives.
Usage: drain-backend.py PORT"""
import socket, sys, threading

def read_line(conn, buf):
    while b"\r\n" not in buf[0]:
        data = conn.recv(1 << 20)
        if not data:
            raise EOFError
        buf[0] += data
    line, buf[0] = buf[0].split(b"\r\n", 1)
    return line

def skip(conn, buf, n):
    take = min(n, len(buf[0]))
    buf[0] = buf[0][take:]
    n -= take
    scratch = bytearray(1 << 20)
    while n > 0:
        got = conn.recv_into(scratch, min(n, len(scratch)))
        if not got:
            raise EOFError
        n -= got

def serve(conn):
    buf = [b""]
    try:
        while True:
            request = read_line(conn, buf)
            headers = {}
            while (line := read_line(conn, buf)):
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                while (size := int(read_line(conn, buf).split(b";")[0], 16)):
                    skip(conn, buf, size + 2)
                while read_line(conn, buf):
                    pass
            else:
                skip(conn, buf, int(headers.get(b"content-length", b"0")))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    except (EOFError, ConnectionError, ValueError):
        pass
    finally:
        conn.close()

server = socket.create_server(("127.0.0.1", int(sys.argv[1])), backlog=128)
while True:
    connection, _ = server.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
