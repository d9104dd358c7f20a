#!/usr/bin/env python3
"""A stray response on an idle pooled backend connection must never reach the next client.

The backend answers each request, then 20 ms later sends a second, unsolicited response ("STRAY-sent-after-<id>") on
the same keep-alive connection. The proxy is frozen (SIGSTOP, standing in for a busy CPU) right after it relays the
answer, so the stray lands on its idle pooled connection while it is not running; the next request is sent while it is
frozen; then it runs again (SIGCONT). A proxy that checks an idle connection for unread bytes before reusing it gives
the next request its own answer every time; otherwise the next client gets the stray.

usage: python3 bench/soak/repro-stray-on-idle-connection.py PROXY [GET|POST [TRIES]] [--Key:Path=value ...]
exit code: 0 no wrong-client delivery, 1 at least one. Loopback only; stops by itself.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def serve(conn):
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            target = lines[0].split()[1]
            headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
            length = int(headers.get("content-length", "0"))
            while len(buf) < length:
                buf += conn.recv(65536)
            buf = buf[length:]
            if target == "/health":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                continue
            rid = headers.get("x-request-id", "?")
            body = ("answer-to-" + rid).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            time.sleep(0.02)
            stray = ("STRAY-sent-after-" + rid).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(stray) + stray)
    except OSError:
        pass  # the proxy dropped the connection: what it should do after a stray
    finally:
        conn.close()


def main():
    proxy_path = sys.argv[1]
    rest = sys.argv[2:]
    overrides = [a for a in rest if a.startswith("--")]
    plain = [a for a in rest if not a.startswith("--")]
    method = plain[0] if plain else "GET"
    tries = int(plain[1]) if len(plain) > 1 else 40

    backend_port, proxy_port = free_port(), free_port()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", backend_port))
    listener.listen(64)

    def accept():
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()

    work = tempfile.mkdtemp(prefix="loadwise-stray-")
    config = os.path.join(work, "proxy.json")
    with open(config, "w") as f:
        json.dump({
            "Listen": ["http://127.0.0.1:%d" % proxy_port],
            "Backends": [{"Id": "stray", "Url": "http://127.0.0.1:%d" % backend_port}],
            "HealthChecks": {"Enabled": False},
            "Log": {"Level": "Warning"},
        }, f)
    proxy = subprocess.Popen([proxy_path, "--config", config] + overrides)
    try:
        time.sleep(1.0)
        wrong = 0
        body = b"x" * 10 if method == "POST" else None
        for i in range(1, tries + 1):
            first = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=10)
            first.request(method, "/r/a%d" % i, body=body, headers={"X-Request-Id": "a%d" % i})
            answer = first.getresponse().read().decode()
            os.kill(proxy.pid, signal.SIGSTOP)   # frozen right after relaying the answer
            time.sleep(0.05)                     # the stray arrives meanwhile
            second = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=10)
            second.connect()
            second.putrequest(method, "/r/b%d" % i)
            second.putheader("X-Request-Id", "b%d" % i)
            if body:
                second.putheader("Content-Length", str(len(body)))
            second.endheaders(body)              # waits in the proxy's socket
            time.sleep(0.01)
            os.kill(proxy.pid, signal.SIGCONT)
            response = second.getresponse()
            got = response.read().decode()
            bad = "STRAY" in got
            wrong += bad
            print("%s a%d -> %s | b%d -> %d %s%s" % (method, i, answer, i, response.status, got, "   <== WRONG CLIENT" if bad else ""))
            first.close()
            second.close()
            time.sleep(0.05)
        print("wrong-client deliveries: %d of %d" % (wrong, tries))
        return 1 if wrong else 0
    finally:
        os.kill(proxy.pid, signal.SIGCONT)
        proxy.terminate()
        proxy.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
