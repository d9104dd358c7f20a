#!/usr/bin/env bash
# Server-sent events through loadwise-proxy, nginx and HAProxy: STREAMS concurrent streams, one event per stream every
# INTERVAL_MS from a backend that stamps each event with the monotonic clock; the clients report each event's delay
# from the backend's send to its arrival. The direct row is the floor (no proxy). Loopback only; every run stops by
# itself. Rounds run the rows in a different order; every figure is the median of the row's rounds.
#
#   bash bench/sse/run.sh                  # 3 rounds, 100 streams, 10 s per row; results to bench/results/proxy-sse.md
#   STREAMS=200 SECONDS_PER_ROW=20 bash bench/sse/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

STREAMS=${STREAMS:-100}
SECONDS_PER_ROW=${SECONDS_PER_ROW:-10}
INTERVAL_MS=${INTERVAL_MS:-100}
ROUNDS=${ROUNDS:-3}
[[ "$ROUNDS" =~ ^[1-9]$ ]] || { echo "ROUNDS: got '$ROUNDS', expected 1-9" >&2; exit 2; }
CORES=$(nproc)
OUT=${OUT:-bench/results/proxy-sse.md}
work=$(mktemp -d /tmp/loadwise-sse-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx-proxy.pid" ] && kill "$(cat "$work/nginx-proxy.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for tool in nginx haproxy curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y nginx haproxy curl" >&2; exit 1; }
done

BACKEND=9090; AOT_PORT=9091; NGINX_PORT=9093; HAPROXY_PORT=9094
log() { printf '[sse] %s\n' "$*" >&2; }
wait_for_200() { # url, timeout seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    [ $SECONDS -ge $deadline ] && { echo "no 200 from $1 within $2 s" >&2; return 1; }
    sleep 0.05
  done
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

log "building the event-stream tool"
dotnet publish bench/sse/Loadwise.Bench.EventStream.csproj -c Release -o "$work/tool" --nologo -v quiet >&2
tool=("dotnet" "$work/tool/Loadwise.Bench.EventStream.dll")

# Every server in its own session: with the kernel's autogroup scheduling it would otherwise share the clients' CPU.
setsid "${tool[@]}" backend "$BACKEND" "$INTERVAL_MS" > "$work/backend.log" 2>&1 &
pids+=($!)
wait_for_200 "http://127.0.0.1:$BACKEND/" 30

cat > "$work/nginx-proxy.conf" <<CONF
worker_processes $CORES;
pid $work/nginx-proxy.pid;
error_log $work/proxy-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream backend { server 127.0.0.1:$BACKEND; keepalive 128; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    # The setting an SSE route needs in nginx (the backend's X-Accel-Buffering: no does the same per response).
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; proxy_read_timeout 1h; }
  }
}
CONF
nginx -c "$work/nginx-proxy.conf" -p "$work"

cat > "$work/haproxy.cfg" <<CONF
global
  nbthread $CORES
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  http-reuse always
  # What an SSE route needs in HAProxy: without it, it holds each event back until more data comes (100-200 ms here).
  option http-no-delay
frontend fe
  bind 127.0.0.1:$HAPROXY_PORT
  default_backend be
backend be
  server s1 127.0.0.1:$BACKEND
CONF
haproxy -f "$work/haproxy.cfg" -D -p "$work/haproxy.pid"
pids+=("$(cat "$work/haproxy.pid")")

source bench/proxy/loadwise.sh
loadwise_build "$work"
loadwise_config "$work/loadwise-aot.json" "$AOT_PORT" "$BACKEND"
setsid "$LOADWISE_AOT" --config "$work/loadwise-aot.json" > "$work/aot.log" 2>&1 &
aot_pid=$!; pids+=("$aot_pid")
wait_for_200 "http://127.0.0.1:$AOT_PORT/" 30
aot_idle_rss=$(rss_kb "$aot_pid")

names=(direct loadwise-aot nginx haproxy)
declare -A port=([direct]=$BACKEND [loadwise-aot]=$AOT_PORT [nginx]=$NGINX_PORT [haproxy]=$HAPROXY_PORT)
mkdir -p "$work/rows"
aot_load_rss=0
for round in $(seq "$ROUNDS"); do
  for i in "${!names[@]}"; do
    # Strides 1 and 3 are the ones coprime with 4 rows: each round is a permutation (stride 2 ran one row twice).
    name=${names[$(( (round - 1 + i * (((round - 1) % 2) * 2 + 1)) % ${#names[@]} ))]}
    log "round $round/$ROUNDS, $name: $STREAMS streams, $SECONDS_PER_ROW s"
    sampler=
    if [ "$name" = loadwise-aot ]; then
      ( sleep $((SECONDS_PER_ROW / 2)); rss_kb "$aot_pid" > "$work/aot-load-rss" ) &
      sampler=$!
    fi
    line=$("${tool[@]}" clients "http://127.0.0.1:${port[$name]}/events" "$STREAMS" "$SECONDS_PER_ROW")
    echo "$round $line" >> "$work/rows/$name"
    if [ -n "$sampler" ]; then
      wait "$sampler"
      sampled=$(cat "$work/aot-load-rss"); [ "$sampled" -gt "$aot_load_rss" ] && aot_load_rss=$sampled
    fi
  done
done
sleep 2
aot_after_rss=$(rss_kb "$aot_pid")

column_median() { awk -v c="$2" '{print $c}' "$work/rows/$1" | median; } # name column
{
  echo "# Server-sent events through loadwise-proxy, nginx and HAProxy"
  echo
  echo "- date: $(date -u +%Y-%m-%d), machine: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $CORES cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "- $STREAMS concurrent streams, one event per stream every $INTERVAL_MS ms, $SECONDS_PER_ROW s per row; $ROUNDS rounds in different orders; figures are medians of the rounds"
  echo "- delay: from just before the backend's send to the client's parse of the event, on the system's monotonic clock"
  echo "- nginx: proxy_buffering off (what an SSE route needs); HAProxy: option http-no-delay (the same); loadwise-proxy: the shipped defaults"
  echo "- command: \`ROUNDS=$ROUNDS STREAMS=$STREAMS SECONDS_PER_ROW=$SECONDS_PER_ROW INTERVAL_MS=$INTERVAL_MS bash bench/sse/run.sh\`"
  echo
  echo "| row | events | failed streams | p50 ms | p99 ms | p99.9 ms | max ms |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for name in "${names[@]}"; do
    echo "| $name | $(column_median "$name" 2) | $(awk '{s += $3} END {print s}' "$work/rows/$name") | $(column_median "$name" 4) | $(column_median "$name" 5) | $(column_median "$name" 6) | $(column_median "$name" 7) |"
  done
  echo
  echo "| loadwise-proxy (AOT) | value |"
  echo "|---|---:|"
  echo "| idle RSS | $((aot_idle_rss / 1024)) MiB |"
  echo "| RSS mid-run (largest of the rounds) | $((aot_load_rss / 1024)) MiB |"
  echo "| RSS 2 s after the last round | $((aot_after_rss / 1024)) MiB |"
  echo
  echo "The rounds (events, failed streams, p50, p99, p99.9, max ms):"
  echo
  for name in "${names[@]}"; do
    awk -v n="$name" '{ printf "- %s, round %s: %s\n", n, $1, substr($0, index($0, $2)) }' "$work/rows/$name"
  done
} | tee "$OUT"
