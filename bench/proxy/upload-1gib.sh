#!/usr/bin/env bash
# A 1 GiB upload through the native proxy, with Content-Length and chunked, to a backend that reads and drops it
# (bench/proxy/drain-backend.py): the body streams (never held whole), so the proxy's RSS stays flat. Results to bench/results/proxy-upload-1gib.md.
#   bash bench/proxy/upload-1gib.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
OUT=${OUT:-bench/results/proxy-upload-1gib.md}
work=$(mktemp -d /tmp/loadwise-upload.XXXXXX); chmod 755 "$work"
proxy_pid=""
backend_pid=""
cleanup() { for p in $proxy_pid $backend_pid; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
log() { printf '[upload] %s\n' "$*" >&2; }
BACKEND=9380; PROXY=9381
mkdir -p "$work/logs"
# A backend that reads every body to its end before answering (nginx's `return 200` answers first and drops the rest).
setsid python3 bench/proxy/drain-backend.py "$BACKEND" > "$work/logs/backend.log" 2>&1 &
backend_pid=$!
source bench/proxy/loadwise.sh
loadwise_build "$work"
loadwise_config "$work/proxy.json" "$PROXY" "$BACKEND"
rows=()
for transport in event-loop socket; do
  setsid "$LOADWISE_AOT" --config "$work/proxy.json" --Limits:MaxRequestBodyBytes=4294967296 \
    "--Performance:EventLoop=$([ $transport = event-loop ] && echo true || echo false)" > "$work/logs/proxy-$transport.log" 2>&1 &
  proxy_pid=$!
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PROXY/" 2>/dev/null && break; sleep 0.1; done
  # Each framing in a fresh process, so that one's peak does not hide the other's.
  for framing in content-length chunked; do
    log "1 GiB, $framing, $transport transport"
    rows+=("$framing, $transport transport|$(python3 bench/proxy/upload-1gib.py "$PROXY" /upload "$proxy_pid" "$([ $framing = chunked ] && echo chunked || echo length)")")
    kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true
    setsid "$LOADWISE_AOT" --config "$work/proxy.json" --Limits:MaxRequestBodyBytes=4294967296 \
      "--Performance:EventLoop=$([ $transport = event-loop ] && echo true || echo false)" >> "$work/logs/proxy-$transport.log" 2>&1 &
    proxy_pid=$!
    for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PROXY/" 2>/dev/null && break; sleep 0.1; done
  done
  kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=""
done
{
  echo "# A 1 GiB upload through loadwise-proxy"
  echo
  echo "- date: $(date -u +%Y-%m-%d), machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- native binary, one backend that reads each body to its end and answers 200 (bench/proxy/drain-backend.py), \`Limits:MaxRequestBodyBytes=0\` (no limit)"
  echo "- the client (bench/proxy/upload-1gib.py) sends 64 KiB blocks on one connection; RSS is the proxy's VmRSS, sampled every 50 ms"
  echo "- command: \`bash bench/proxy/upload-1gib.sh\`"
  echo
  echo "| framing, client transport | answer | seconds | MB/s | RSS before | peak RSS during the upload |"
  echo "|---|---|---:|---:|---:|---:|"
  for row in "${rows[@]}"; do
    IFS='|' read -r framing status seconds rate before peak <<<"$row"
    printf '| %s | %s | %s | %s | %s MB | %s MB |\n' "$framing" "$status" "$seconds" "$rate" "$(awk -v k="$before" 'BEGIN { printf "%.1f", k / 1024 }')" "$(awk -v k="$peak" 'BEGIN { printf "%.1f", k / 1024 }')"
  done
} > "$OUT"
cat "$OUT"
