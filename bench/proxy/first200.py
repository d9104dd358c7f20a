#!/usr/bin/env python3
"""Starts a command and prints the milliseconds from its start to the first HTTP 200 on a URL.

Polls from this already-running process every 0.5 ms, so the figure is the server's start time, not the poller's
(spawning curl in a loop costs several milliseconds per try). The command keeps running; its pid goes to stderr.

    first200.py http://127.0.0.1:9081/ -- ./loadwise-proxy --config proxy.json
"""
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    url = urlsplit(sys.argv[1])
    host, port, path = url.hostname or "127.0.0.1", url.port or 80, url.path or "/"
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
    started = time.perf_counter()
    process = subprocess.Popen(sys.argv[3:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = started + 10
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            print(f"the command exited with {process.returncode} before answering", file=sys.stderr)
            return 1
        try:
            with socket.create_connection((host, port), timeout=1) as connection:
                connection.sendall(request)
                status = connection.recv(64).split(b" ", 2)
                if len(status) > 1 and status[1] == b"200":
                    print(f"{(time.perf_counter() - started) * 1000:.1f}")
                    print(process.pid, file=sys.stderr)
                    return 0
        except OSError:
            pass
        time.sleep(0.0005)
    print(f"no 200 from {sys.argv[1]} within 10 s", file=sys.stderr)
    process.kill()
    return 1


if __name__ == "__main__":
    sys.exit(main())
