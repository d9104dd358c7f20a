#!/usr/bin/env bash
# Smoke test: nginx backend (1 KiB file) on 9280, floorproxy on 9281, a Python echo backend on 9282 behind a second
# floorproxy on 9283 for the edge cases. One 3 s wrk run. Everything started here is stopped on exit. It prints what
# it sees for a person to read (the prototype is a measurement aid, not shipped; CI only compiles it).
#   bash bench/floor/test/smoke.sh [path/to/floorproxy]   (default: artifacts/floor/floorproxy; WRK=0 skips the load run)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../../artifacts/floor/floorproxy}
work=$(mktemp -d /tmp/floor-smoke.XXXXXX); chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/backend.pid" ] && kill "$(cat "$work/backend.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/www" "$work/logs"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/index.html"
printf 'worker_processes 2;\npid %s/backend.pid;\nerror_log %s/logs/error.log warn;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  keepalive_requests 1000000;\n  server { listen 127.0.0.1:9280; root %s/www; location / { index index.html; } }\n}\n' "$work" "$work" "$work" > "$work/backend.conf"
nginx -c "$work/backend.conf" -p "$work"
echo '{"Listen":["http://127.0.0.1:9281"],"Backends":[{"Id":"nginx","Url":"http://127.0.0.1:9280"}]}' > "$work/a.json"
echo '{"Listen":["http://127.0.0.1:9283"],"Backends":[{"Id":"echo","Url":"http://127.0.0.1:9282"}]}' > "$work/b.json"
setsid "$bin" --config "$work/a.json" > "$work/logs/a.log" 2>&1 & pids+=($!)
setsid python3 "$here/echo_backend.py" > "$work/logs/echo.log" 2>&1 & pids+=($!)
setsid "$bin" --config "$work/b.json" > "$work/logs/b.log" 2>&1 & pids+=($!)
sleep 0.5
echo "== one request"; curl -s -o /dev/null -w '%{http_code} %{size_download} bytes\n' http://127.0.0.1:9281/
echo "== three on one connection"; curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{http_code} %{size_download} bytes, new connections %{num_connects}\n' http://127.0.0.1:9281/ http://127.0.0.1:9281/ http://127.0.0.1:9281/
echo "== edge cases (echo backend)"; python3 "$here/rawtest.py" 9283
echo "== chunked, close-delimited, 5 MB, backend down"
curl -s -o /dev/null -w 'chunked %{http_code} %{size_download}\n' http://127.0.0.1:9283/chunked
curl -s -o /dev/null -w 'close-delimited %{http_code} %{size_download}\n' --max-time 5 http://127.0.0.1:9283/close
curl -s -o /dev/null -w 'big %{http_code} %{size_download}\n' http://127.0.0.1:9283/big
kill "${pids[1]}"; sleep 0.3
curl -s -o /dev/null -w 'backend down %{http_code}\n' http://127.0.0.1:9283/
if [ "${WRK:-1}" = 1 ]; then echo "== wrk -t2 -c64 -d3s"; wrk -t2 -c64 -d3s http://127.0.0.1:9281/; fi
