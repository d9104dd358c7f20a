#!/usr/bin/env bash
# Loadwise proxy vs nginx vs HAProxy, all in front of one nginx backend serving 1 KB on 127.0.0.1.
# Every row gets the same wrk threads, connections and duration; every proxy keeps backend connections alive and runs
# as many workers as cores. Loopback only; each wrk run stops by itself.
#
#   bash bench/proxy/run.sh                 # 10 s per row, results to bench/results/proxy-vs-nginx-haproxy.md
#   DURATION=30s CONNECTIONS=128 bash bench/proxy/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-10s}
CORES=$(nproc)
OUT=${OUT:-bench/results/proxy-vs-nginx-haproxy.md}
work=$(mktemp -d /tmp/loadwise-proxy-bench.XXXXXX)
chmod 755 "$work" # nginx workers (www-data) serve the page from here
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx-backend.pid" ] && kill "$(cat "$work/nginx-backend.pid")" 2>/dev/null || true
  [ -f "$work/nginx-proxy.pid" ] && kill "$(cat "$work/nginx-proxy.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for tool in nginx haproxy wrk curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y nginx haproxy wrk curl" >&2; exit 1; }
done

BACKEND=9080; AOT_PORT=9081; JIT_PORT=9082; NGINX_PORT=9083; HAPROXY_PORT=9084

log() { printf '[bench] %s\n' "$*" >&2; }

wait_for_200() { # url, timeout seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    [ $SECONDS -ge $deadline ] && { echo "no 200 from $1 within $2 s" >&2; return 1; }
    sleep 0.005
  done
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# --- backend: nginx serving a 1 KB static body --------------------------------------------------------------------
mkdir -p "$work/www" "$work/logs"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/index.html"
cat > "$work/nginx-backend.conf" <<CONF
worker_processes $CORES;
pid $work/nginx-backend.pid;
error_log $work/logs/backend-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$BACKEND; root $work/www; location / { index index.html; } }
}
CONF
nginx -c "$work/nginx-backend.conf" -p "$work"
wait_for_200 "http://127.0.0.1:$BACKEND/" 10

# --- nginx as a proxy, upstream keepalive pool ---------------------------------------------------------------------
cat > "$work/nginx-proxy.conf" <<CONF
worker_processes $CORES;
pid $work/nginx-proxy.pid;
error_log $work/logs/proxy-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$BACKEND; keepalive 128; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
nginx -c "$work/nginx-proxy.conf" -p "$work"

# --- HAProxy, http-reuse always -----------------------------------------------------------------------------------
cat > "$work/haproxy.cfg" <<CONF
global
  nbthread $CORES
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind 127.0.0.1:$HAPROXY_PORT
  default_backend be
backend be
  server s1 127.0.0.1:$BACKEND
CONF
haproxy -f "$work/haproxy.cfg" -D -p "$work/haproxy.pid"
pids+=("$(cat "$work/haproxy.pid")")

# --- loadwise-proxy, native AOT and JIT ----------------------------------------------------------------------------
source bench/proxy/loadwise.sh
loadwise_build "$work"
loadwise_config "$work/loadwise-aot.json" "$AOT_PORT" "$BACKEND"
loadwise_config "$work/loadwise-jit.json" "$JIT_PORT" "$BACKEND"

# Start to first 200, timed by a poller that is already running (spawning curl per try would add milliseconds).
first_200_ms=$(python3 bench/proxy/first200.py "http://127.0.0.1:$AOT_PORT/" -- "$LOADWISE_AOT" --config "$work/loadwise-aot.json" 2> "$work/aot.pid")
aot_pid=$(tail -n 1 "$work/aot.pid"); pids+=("$aot_pid")
sleep 1
aot_idle_rss=$(rss_kb "$aot_pid")

dotnet "$LOADWISE_JIT" --config "$work/loadwise-jit.json" > "$work/logs/jit.log" 2>&1 &
jit_pid=$!; pids+=("$jit_pid")
wait_for_200 "http://127.0.0.1:$JIT_PORT/" 30
jit_idle_rss=$(rss_kb "$jit_pid")

# --- the run -------------------------------------------------------------------------------------------------------
declare -A rps p50 p99 errors cpu
# CPU time (user + system, clock ticks) of a process and its children (nginx's workers).
cpu_ticks() { # pid
  local total=0 p
  for p in "$1" $(pgrep -P "$1"); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
run_row() { # name port pid (whose CPU per request is reported)
  local name=$1 port=$2 pid=$3 file="$work/wrk-$1.txt" before after requests
  log "$name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
  # A short warm-up so the JIT row is measured at tier 1 and pools are filled.
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "http://127.0.0.1:$port/" > /dev/null
  before=$(cpu_ticks "$pid")
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$port/" > "$file"
  after=$(cpu_ticks "$pid")
  requests=$(awk '/requests in/ {print $1}' "$file")
  cpu[$name]=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
  rps[$name]=$(awk '/Requests\/sec/ {print $2}' "$file")
  p50[$name]=$(awk '$1=="50%" {print $2}' "$file")
  p99[$name]=$(awk '$1=="99%" {print $2}' "$file")
  local non2xx sock
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$file"); sock=$(awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}' "$file")
  errors[$name]=$(( ${non2xx:-0} + ${sock:-0} ))
}

run_row direct "$BACKEND" "$(cat "$work/nginx-backend.pid")"
# RSS under load: sampled from the side, mid-run (after the 2 s warm-up).
( sleep 6; rss_kb "$aot_pid" > "$work/aot-load-rss" ) &
sampler=$!
run_row loadwise-aot "$AOT_PORT" "$aot_pid"
wait "$sampler"
aot_load_rss=$(cat "$work/aot-load-rss")
run_row loadwise-jit "$JIT_PORT" "$jit_pid"
run_row nginx "$NGINX_PORT" "$(cat "$work/nginx-proxy.pid")"
run_row haproxy "$HAPROXY_PORT" "$(cat "$work/haproxy.pid")"

# wrk prints latencies with units; normalise to milliseconds for the table.
to_ms() { awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.3f", n }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

binary_bytes=$(stat -c %s "$LOADWISE_AOT")
{
  echo "# loadwise-proxy vs nginx vs HAProxy"
  echo
  echo "- date: $(date -u +%Y-%m-%d), machine: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $CORES cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "- wrk: $THREADS threads, $CONNECTIONS connections, $DURATION per row, after a 2 s warm-up; backend: nginx, 1 KB static body"
  echo "- every proxy: keep-alive to the backend, $CORES workers/threads; all processes share the same $CORES cores (CPU-bound)"
  echo "- command: \`THREADS=$THREADS CONNECTIONS=$CONNECTIONS DURATION=$DURATION bash bench/proxy/run.sh\`"
  echo
  echo "| row | rps | p50 ms | p99 ms | errors | rps / HAProxy | rps / nginx | CPU us per request |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for name in direct loadwise-aot loadwise-jit nginx haproxy; do
    echo "| $name | ${rps[$name]} | $(to_ms "${p50[$name]}") | $(to_ms "${p99[$name]}") | ${errors[$name]} | $(ratio "${rps[$name]}" "${rps[haproxy]}") | $(ratio "${rps[$name]}" "${rps[nginx]}") | ${cpu[$name]} |"
  done
  echo
  echo "CPU us per request: user + system time of the row's proxy process (with its workers) over the measured run,"
  echo "divided by the requests it served; the direct row shows the backend's own. All rows share the same 2 cores, so"
  echo "this is the figure that decides rps: the less a proxy spends, the more is left for wrk and the backend."
  echo
  echo "| loadwise-proxy (AOT) | value |"
  echo "|---|---:|"
  echo "| start to first 200 (bench/proxy/first200.py) | ${first_200_ms} ms |"
  echo "| idle RSS | $((aot_idle_rss / 1024)) MB |"
  echo "| RSS under load | $((aot_load_rss / 1024)) MB |"
  echo "| binary size | $(awk -v b="$binary_bytes" 'BEGIN { printf "%.1f MB", b / 1048576 }') |"
  echo "| JIT idle RSS | $((jit_idle_rss / 1024)) MB |"
} | tee "$OUT"
