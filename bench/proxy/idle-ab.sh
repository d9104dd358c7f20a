#!/usr/bin/env bash
# Several loadwise-proxy builds up at once in front of one nginx backend (1 KB on 127.0.0.1), measured in turn, with
# IDLE seconds of quiet before each run: run.sh's conditions (each row idles while the others run), without its other
# rows. Prints requests per second, p99 and the proxy's CPU per request for every run. Each wrk run stops by itself.
#
#   IDLE=30 ROUNDS=2 bash bench/proxy/idle-ab.sh artifacts/aot/loadwise-proxy artifacts/jit/loadwise-proxy.dll
#
# A .dll argument runs under `dotnet` (the JIT build); anything else is run as a native binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { echo "usage: IDLE=30 ROUNDS=2 bash bench/proxy/idle-ab.sh PROXY [PROXY...]  (a native binary or a .dll)" >&2; exit 2; }
IDLE=${IDLE:-30}; ROUNDS=${ROUNDS:-2}; DURATION=${DURATION:-8s}
[[ "$IDLE" =~ ^[0-9]{1,3}$ ]] || { echo "IDLE: got '$IDLE', expected seconds from 0 to 999" >&2; exit 2; }
[[ "$ROUNDS" =~ ^[1-9]$ ]] || { echo "ROUNDS: got '$ROUNDS', expected 1-9" >&2; exit 2; }
for tool in nginx wrk curl; do command -v "$tool" >/dev/null || { echo "missing $tool: bash scripts/install-tools.sh --bench" >&2; exit 1; }; done
for proxy in "$@"; do [ -f "$proxy" ] || { echo "$proxy: not found; publish it first (see README, Publish the native binary)" >&2; exit 1; }; done

BACKEND=9580
work=$(mktemp -d /tmp/loadwise-idle-ab.XXXXXX); chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/backend.pid" ] && kill "$(cat "$work/backend.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { echo "[idle-ab] $*" >&2; }

mkdir -p "$work/www" "$work/logs"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/index.html"
printf 'worker_processes %s;\npid %s/backend.pid;\nerror_log %s/logs/error.log warn;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  keepalive_requests 1000000;\n  server { listen 127.0.0.1:%s; root %s/www; location / { index index.html; } }\n}\n' \
  "$(nproc)" "$work" "$work" "$BACKEND" "$work" > "$work/backend.conf"
nginx -c "$work/backend.conf" -p "$work"
source bench/proxy/loadwise.sh # the same proxy config as run.sh and compare.sh

ports=()
index=0
for proxy in "$@"; do
  port=$((BACKEND + 1 + index))
  loadwise_config "$work/proxy-$index.json" "$port" "$BACKEND"
  if [[ "$proxy" == *.dll ]]; then
    setsid dotnet "$proxy" --config "$work/proxy-$index.json" > "$work/logs/proxy-$index.log" 2>&1 &
  else
    setsid "$proxy" --config "$work/proxy-$index.json" > "$work/logs/proxy-$index.log" 2>&1 &
  fi
  pids+=("$!"); ports+=("$port")
  index=$((index + 1))
done
for port in "${ports[@]}"; do
  for _ in $(seq 600); do curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.05; done
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
printf '%-6s %-50s %8s %9s %8s\n' round proxy rps p99_ms cpu_us
for round in $(seq "$ROUNDS"); do
  for index in "${!ports[@]}"; do
    log "round $round: ${IDLE}s idle, then proxy $((index + 1)) of ${#ports[@]}"
    sleep "$IDLE"
    wrk -t2 -c64 -d2s "http://127.0.0.1:${ports[$index]}/" > /dev/null
    before=$(ticks "${pids[$index]}")
    wrk -t2 -c64 -d"$DURATION" --latency "http://127.0.0.1:${ports[$index]}/" > "$work/wrk.txt"
    after=$(ticks "${pids[$index]}")
    requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
    printf '%-6s %-50s %8.0f %9s %8s\n' "$round" "${@:$((index + 1)):1}" \
      "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")" \
      "$(awk '$1=="99%" {print $2}' "$work/wrk.txt" | wrk_ms)" \
      "$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"
  done
done
