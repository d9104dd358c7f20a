#!/usr/bin/env python3
"""Sends a 1 GiB request body (Content-Length, or chunked) through the proxy at PORT to PATH and reads the answer,
while sampling the proxy process's RSS every 50 ms. Prints the status, the seconds, the MB/s and the peak RSS.
Usage: upload-1gib.py PORT PATH PROXY_PID [chunked]"""
import socket, sys, threading, time

port, path, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
chunked = len(sys.argv) > 4 and sys.argv[4] == "chunked"
total = 1 << 30
block = b"x" * 65536
peak = [0]
done = threading.Event()

def rss_kb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def sample():
    while not done.is_set():
        peak[0] = max(peak[0], rss_kb())
        time.sleep(0.05)

before = rss_kb()
threading.Thread(target=sample, daemon=True).start()
s = socket.create_connection(("127.0.0.1", port))
framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
s.sendall(f"POST {path} HTTP/1.1\r\nHost: bench\r\n{framing}\r\nContent-Type: application/octet-stream\r\n\r\n".encode())
started = time.monotonic()
sent = 0
chunk_head = f"{len(block):x}\r\n".encode()
while sent < total:
    if chunked:
        s.sendall(chunk_head + block + b"\r\n")
    else:
        s.sendall(block)
    sent += len(block)
if chunked:
    s.sendall(b"0\r\n\r\n")
answer = b""
while b"\r\n\r\n" not in answer:
    data = s.recv(65536)
    if not data:
        break
    answer += data
seconds = time.monotonic() - started
done.set()
status = answer.split(b"\r\n", 1)[0].decode(errors="replace")
print(f"{status}|{seconds:.2f}|{total / seconds / 1e6:.0f}|{before}|{peak[0]}")
