#!/usr/bin/env bash
# What the access log costs: loadwise-proxy (native) with the log off, in the common format and in JSON (both to a
# file), and nginx with its access log off and on (combined, to a file) as the yardstick, all in front of one nginx
# backend serving 1 KB on 127.0.0.1. Rows interleave over ROUNDS rounds (each round in its own order); figures are the
# medians of the rounds. Loopback only; every wrk run stops by itself.
#
#   bash bench/proxy/access-log.sh            # results to bench/results/proxy-access-log.md
#   ROUNDS=5 DURATION=20s bash bench/proxy/access-log.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
THREADS=${THREADS:-2}; CONNECTIONS=${CONNECTIONS:-64}; DURATION=${DURATION:-10s}; ROUNDS=${ROUNDS:-3}
[[ "$ROUNDS" =~ ^[1-9]$ ]] || { echo "ROUNDS: got '$ROUNDS', expected 1-9" >&2; exit 2; }
OUT=${OUT:-bench/results/proxy-access-log.md}
CORES=$(nproc)
work=$(mktemp -d /tmp/loadwise-accesslog-bench.XXXXXX); chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for f in "$work"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for tool in nginx wrk curl; do command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y nginx wrk curl" >&2; exit 1; }; done
log() { printf '[access-log] %s\n' "$*" >&2; }
wait_for_200() { local deadline=$((SECONDS + $2)); until curl -fsS -o /dev/null "$1" 2>/dev/null; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.01; done; }
source bench/proxy/loadwise.sh

BACKEND=9180
declare -A port=([loadwise-off]=9181 [loadwise-common]=9182 [loadwise-json]=9183 [nginx-off]=9184 [nginx-combined]=9185)
mkdir -p "$work/www" "$work/logs"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/index.html"
nginx_conf() { # name listen body
  cat > "$work/$1.conf" <<CONF
worker_processes $CORES;
pid $work/$1.pid;
error_log $work/logs/$1-error.log warn;
events { worker_connections 4096; }
http { $3
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$BACKEND; keepalive 128; }
  server { listen 127.0.0.1:$2; root $work/www;
    location / { $4 } }
}
CONF
  nginx -c "$work/$1.conf" -p "$work"
}
nginx_conf backend $BACKEND "access_log off;" "index index.html;"
nginx_conf nginx-off "${port[nginx-off]}" "access_log off;" 'proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";'
nginx_conf nginx-combined "${port[nginx-combined]}" "access_log $work/logs/nginx-access.log combined;" 'proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";'
wait_for_200 "http://127.0.0.1:$BACKEND/" 10

loadwise_build "$work"
for name in loadwise-off loadwise-common loadwise-json; do
  loadwise_config "$work/$name.json" "${port[$name]}" "$BACKEND"
  case $name in
    loadwise-common) extra=(--AccessLog:Enabled=true --AccessLog:Format=common "--AccessLog:Path=$work/logs/$name.log") ;;
    loadwise-json) extra=(--AccessLog:Enabled=true --AccessLog:Format=json "--AccessLog:Path=$work/logs/$name.log") ;;
    *) extra=() ;;
  esac
  # Its own session: with autogroup scheduling a process in wrk's session would share wrk's CPU share.
  setsid "$LOADWISE_AOT" --config "$work/$name.json" "${extra[@]}" > "$work/logs/$name.out" 2>&1 &
  pids+=("$!")
  wait_for_200 "http://127.0.0.1:${port[$name]}/" 30
done

names=(loadwise-off loadwise-common loadwise-json nginx-off nginx-combined)
mkdir -p "$work/rows"
for round in $(seq "$ROUNDS"); do
  for i in "${!names[@]}"; do
    name=${names[$(( (round - 1 + i * ((round - 1) % 4 + 1)) % ${#names[@]} ))]}
    log "round $round/$ROUNDS, $name"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "http://127.0.0.1:${port[$name]}/" > /dev/null
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:${port[$name]}/" > "$work/wrk.txt"
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt"); sock=$(awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}' "$work/wrk.txt")
    printf '%s %s %s %s\n' "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")" \
      "$(awk '$1=="99%" {print $2}' "$work/wrk.txt" | wrk_ms)" $(( ${non2xx:-0} + ${sock:-0} )) "$round" >> "$work/rows/$name"
  done
done

lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }
dropped=$(curl -fsS "http://127.0.0.1:${port[loadwise-common]}/metrics" | awk '/^loadwise_access_log_dropped_total / {print $2}')
declare -A rps p99
for name in "${names[@]}"; do
  rps[$name]=$(awk '{print $1}' "$work/rows/$name" | median); p99[$name]=$(awk '{print $2}' "$work/rows/$name" | median)
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
{
  echo "# What the access log costs"
  echo
  echo "- date: $(date -u +%Y-%m-%d), machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $CORES cores, load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- wrk: $THREADS threads, $CONNECTIONS connections, $DURATION per row after a 2 s warm-up; GET / of 1 KB from an nginx backend; $ROUNDS rounds in changing order, medians"
  echo "- loadwise-proxy native binary, each row its own process (setsid); the logs go to files on the same disk"
  echo "- command: \`ROUNDS=$ROUNDS DURATION=$DURATION bash bench/proxy/access-log.sh\`"
  echo
  echo "| row | rps | p99 ms | errors | rps / same proxy with the log off |"
  echo "|---|---:|---:|---:|---:|"
  for name in "${names[@]}"; do
    base=loadwise-off; [[ $name == nginx-* ]] && base=nginx-off
    printf '| %s | %.0f | %s | %s | %s |\n' "$name" "${rps[$name]}" "${p99[$name]}" "$(awk '{s += $3} END {print s + 0}' "$work/rows/$name")" "$(ratio "${rps[$name]}" "${rps[$base]}")"
  done
  echo
  echo "Lines written: loadwise common $(lines "$work/logs/loadwise-common.log"), JSON $(lines "$work/logs/loadwise-json.log"), nginx $(lines "$work/logs/nginx-access.log"); lines dropped by the common row's writer: ${dropped:-0}."
  echo
  echo "The rounds (rps, p99 ms):"
  echo
  printf '| round |'; printf ' %s |' "${names[@]}"; echo
  echo "|---|---:|---:|---:|---:|---:|"
  for round in $(seq "$ROUNDS"); do
    row="| $round"
    for name in "${names[@]}"; do row+=" | $(awk -v r="$round" '$4 == r {print $1 ", " $2}' "$work/rows/$name")"; done
    echo "$row |"
  done
} > "$OUT"
cat "$OUT"
