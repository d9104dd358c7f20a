#!/usr/bin/env python3
"""Pooled backend connections idle past Timeouts:IdleMs should be closed; this counts the ones still open.

A burst of concurrent GETs through the proxy opens one pooled connection per concurrent request to a keep-alive
backend. Then nothing happens for longer than the proxy's idle timeout (IdleMs 2000 here). A proxy that closes idle
backend connections after IdleMs holds none afterwards; this prints how many the proxy still holds, by TCP state.

With BACKEND_IDLE_S > 0 the backend closes its side of an idle connection after that many seconds, as Kestrel (130 s),
nginx or Node do: the proxy's socket then sits in CLOSE_WAIT until the proxy closes it.

usage: python3 bench/soak/repro-idle-backend-connections.py PROXY [CONCURRENCY [BACKEND_IDLE_S]] [--Key:Path=value ...]
exit code: 0 none left open, 1 some left open. Loopback only; stops by itself.
"""
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

STATES = {"01": "ESTABLISHED", "06": "TIME_WAIT", "08": "CLOSE_WAIT", "0A": "LISTEN"}


class KeepAlive(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path != "/health":
            time.sleep(0.2)  # long enough that the burst's requests overlap
        body = b"ok"
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # a health probe that timed out

    def log_message(self, *args):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sockets_to(pid, port):
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    counts = {}
    with open("/proc/%d/net/tcp" % pid) as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[9] in inodes and int(fields[2].split(":")[1], 16) == port:
                state = STATES.get(fields[3], fields[3])
                counts[state] = counts.get(state, 0) + 1
    return counts


def main():
    proxy_path = sys.argv[1]
    rest = sys.argv[2:]
    overrides = [a for a in rest if a.startswith("--")]
    plain = [a for a in rest if not a.startswith("--")]
    concurrency = int(plain[0]) if plain else 20
    if len(plain) > 1 and float(plain[1]) > 0:
        KeepAlive.timeout = float(plain[1])  # the handler's socket timeout: an idle connection is closed after it

    backend_port, proxy_port = free_port(), free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", backend_port), KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    work = tempfile.mkdtemp(prefix="loadwise-idle-")
    config = os.path.join(work, "proxy.json")
    with open(config, "w") as f:
        json.dump({
            "Listen": ["http://127.0.0.1:%d" % proxy_port],
            "Backends": [{"Id": "keepalive", "Url": "http://127.0.0.1:%d" % backend_port}],
            "Timeouts": {"IdleMs": 2000},
            "HealthChecks": {"Path": "/health"},
            "Log": {"Level": "Warning"},
        }, f)
    proxy = subprocess.Popen([proxy_path, "--config", config] + overrides)
    try:
        time.sleep(1.0)

        def one(i):
            c = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=10)
            c.request("GET", "/r/%d" % i)
            c.getresponse().read()
            c.close()

        burst = [threading.Thread(target=one, args=(i,)) for i in range(concurrency)]
        for t in burst:
            t.start()
        for t in burst:
            t.join()
        print("after a burst of %d concurrent GETs: %s" % (concurrency, sockets_to(proxy.pid, backend_port)))
        for wait in (5, 15):
            time.sleep(wait - (5 if wait == 15 else 0))
            print("%2d s later (IdleMs 2000): the proxy's sockets to the backend: %s" % (wait, sockets_to(proxy.pid, backend_port)))
        left = sum(sockets_to(proxy.pid, backend_port).values())
        # One connection may stay in use by the active health check (GET /health every second).
        print("left open past the idle timeout: %d (at most 1 expected: the health check's)" % left)
        return 1 if left > 1 else 0
    finally:
        proxy.terminate()
        proxy.wait()
        shutil.rmtree(work, ignore_errors=True)
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
