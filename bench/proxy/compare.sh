#!/usr/bin/env bash
# Interleaved A/B runs of two proxies in front of one nginx backend (1 KB on 127.0.0.1), with the median of each
# figure: requests per second, p99, and the proxy's CPU per request split into user and kernel time. On a shared
# machine single runs move by 10-30%; alternating A and B and taking medians is what makes a small change visible.
#
#   bash bench/proxy/compare.sh 5 artifacts/aot-before/loadwise-proxy artifacts/aot/loadwise-proxy
#   bash bench/proxy/compare.sh 5 artifacts/aot/loadwise-proxy nginx      # "nginx": nginx as the proxy, 2 workers
#   bash bench/proxy/compare.sh 5 artifacts/aot/loadwise-proxy haproxy    # "haproxy": HAProxy, 2 threads, http-reuse
#   BODY_BYTES=65536 bash bench/proxy/compare.sh 5 A B                     # POST /upload with a 64 KiB body instead
#
# A proxy binary is started with --config <a config listening on 127.0.0.1:9281>. Each wrk run stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -eq 3 ] || { echo "usage: bash bench/proxy/compare.sh RUNS PROXY_A PROXY_B  (a loadwise-proxy binary, nginx or haproxy)" >&2; exit 2; }
runs=$1; a=$2; b=$3
[[ "$runs" =~ ^[1-9][0-9]?$ ]] || { echo "RUNS: got '$runs', expected 1-99" >&2; exit 2; }
for tool in nginx wrk curl; do command -v "$tool" >/dev/null || { echo "missing $tool: bash scripts/install-tools.sh --bench" >&2; exit 1; }; done
for proxy in "$a" "$b"; do
  [ "$proxy" = nginx ] || [ "$proxy" = haproxy ] || [ -x "$proxy" ] || { echo "$proxy: not an executable; publish it first (see README, Publish the native binary)" >&2; exit 1; }
done

BACKEND=9280; PROXY=9281; CORES=$(nproc); DURATION=${DURATION:-8s}; BODY_BYTES=${BODY_BYTES:-0}
[[ "$BODY_BYTES" =~ ^[0-9]+$ ]] || { echo "BODY_BYTES: got '$BODY_BYTES', expected a byte count (0: GET)" >&2; exit 2; }
work=$(mktemp -d /tmp/loadwise-compare.XXXXXX); chmod 755 "$work"
cleanup() {
  [ -n "${proxy_pid:-}" ] && kill "$proxy_pid" 2>/dev/null || true
  [ -f "$work/backend.pid" ] && kill "$(cat "$work/backend.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www" "$work/logs"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/index.html"
nginx_conf() { # file listen pid-file extra-http-lines
  printf 'worker_processes %s;\npid %s;\nerror_log %s/logs/error.log warn;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  keepalive_requests 1000000;\n%s\n}\n' "$CORES" "$3" "$work" "$4" > "$1"
}
# POST /upload is answered as bench/proxy/run.sh's backend answers it: 200 with a short body, the request body read.
nginx_conf "$work/backend.conf" "$BACKEND" "$work/backend.pid" "  client_body_buffer_size 128k;
  server { listen 127.0.0.1:$BACKEND; root $work/www; location / { index index.html; } location /upload { return 200 \"ok\\n\"; } }"
request=(--latency "http://127.0.0.1:$PROXY/")
if [ "$BODY_BYTES" -gt 0 ]; then
  printf 'wrk.method = "POST"\nwrk.body = string.rep("x", %s)\n' "$BODY_BYTES" > "$work/post.lua"
  request=(--latency -s "$work/post.lua" "http://127.0.0.1:$PROXY/upload")
fi
nginx_conf "$work/proxy.conf" "$PROXY" "$work/proxy.pid" "  upstream backend { server 127.0.0.1:$BACKEND; keepalive 128; }
  client_body_buffer_size 128k;
  server { listen 127.0.0.1:$PROXY; location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
# The same HAProxy setup as bench/proxy/run.sh's row.
printf 'global\n  nbthread %s\n  maxconn 4000\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n  http-reuse always\nfrontend fe\n  bind 127.0.0.1:%s\n  default_backend be\nbackend be\n  server s1 127.0.0.1:%s\n' \
  "$CORES" "$PROXY" "$BACKEND" > "$work/haproxy.cfg"
source bench/proxy/loadwise.sh # the same proxy config as bench/proxy/run.sh
loadwise_config "$work/loadwise.json" "$PROXY" "$BACKEND"
nginx -c "$work/backend.conf" -p "$work"

one_run() { # label proxy
  # setsid: the proxy gets its own session, so with the kernel's autogroup scheduling it competes for CPU as its own
  # group, as the backend does, rather than sharing wrk's (bench/proxy/run.sh runs every proxy row that way).
  if [ "$2" = nginx ]; then setsid nginx -c "$work/proxy.conf" -p "$work" -g 'daemon off;' > /dev/null 2>&1 &
  elif [ "$2" = haproxy ]; then setsid haproxy -f "$work/haproxy.cfg" -db > "$work/logs/haproxy.log" 2>&1 &
  else setsid "$2" --config "$work/loadwise.json" > "$work/logs/proxy.log" 2>&1 & fi
  proxy_pid=$!
  local deadline=$((SECONDS + 30))
  until curl -fsS -o /dev/null "http://127.0.0.1:$PROXY/" 2>/dev/null; do
    [ $SECONDS -ge $deadline ] && { echo "$1: no 200 within 30 s; see $work/logs" >&2; exit 1; }
    sleep 0.05
  done
  wrk -t2 -c64 -d2s "${request[@]}" > /dev/null
  local procs ticks0 ticks1
  procs="$proxy_pid $(pgrep -P "$proxy_pid" | tr '\n' ' ')"
  ticks() { local u=0 s=0 p x y; for p in $procs; do read -r x y < <(awk '{print $14, $15}' "/proc/$p/stat"); u=$((u + x)); s=$((s + y)); done; echo "$u $s"; }
  ticks0=$(ticks)
  wrk -t2 -c64 -d"$DURATION" "${request[@]}" > "$work/wrk.txt"
  ticks1=$(ticks)
  kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=
  awk -v l="$1" -v t0="$ticks0" -v t1="$ticks1" -v hz="$(getconf CLK_TCK)" '
    /requests in/ { n = $1 } /Requests\/sec/ { rps = $2 } $1 == "99%" { p99 = $2 }
    END { split(t0, a, " "); split(t1, b, " "); u = (b[1] - a[1]) * 1e6 / hz / n; s = (b[2] - a[2]) * 1e6 / hz / n
          printf "%s %.0f %s %.1f %.1f %.1f\n", l, rps, p99, u + s, u, s }' "$work/wrk.txt"
}

printf '%-3s %8s %9s %8s %6s %6s\n' run rps p99 "cpu/req" user kernel >&2
for i in $(seq "$runs"); do
  for side in A B; do
    proxy=$a; [ $side = B ] && proxy=$b
    line=$(one_run "$side" "$proxy"); echo "$line" >> "$work/runs.txt"
    echo "$line" | awk '{printf "%-3s %8s %9s %8s %6s %6s\n", $1, $2, $3, $4, $5, $6}' >&2
  done
done

echo "medians of $runs interleaved runs (wrk -t2 -c64 -d$DURATION, CPU in us per request):"
for side in A B; do
  proxy=$a; [ $side = B ] && proxy=$b
  rows=$(grep "^$side " "$work/runs.txt")
  printf '%s  rps %s  p99 %s ms  cpu/req %s (user %s, kernel %s)  %s\n' "$side" \
    "$(echo "$rows" | awk '{print $2}' | median)" "$(echo "$rows" | awk '{print $3}' | wrk_ms | median)" \
    "$(echo "$rows" | awk '{print $4}' | median)" "$(echo "$rows" | awk '{print $5}' | median)" \
    "$(echo "$rows" | awk '{print $6}' | median)" "$proxy"
done
