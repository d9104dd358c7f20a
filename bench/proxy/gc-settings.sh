#!/usr/bin/env bash
# The native proxy under GC settings: a burst of POST 1 KB through the path that allocates (HttpClient, as for https
# backends: Performance.DirectHttp1=false) and through the direct path, then idle. Per setting: requests/s, the largest
# RSS sampled during the burst, RSS 5 s after it, gen0 collections and bytes allocated per request. Settings are the
# runtime's DOTNET_* environment variables (the native runtime reads them too). Loopback only; each run stops by itself.
#
#   bash bench/proxy/gc-settings.sh          # results to bench/results/proxy-gc-settings.md
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-bench/results/proxy-gc-settings.md}
work=$(mktemp -d /tmp/loadwise-gc-bench.XXXXXX)
chmod 755 "$work"
cleanup() {
  [ -n "${proxy_pid:-}" ] && kill "$proxy_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '[gc] %s\n' "$*" >&2; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
wait_for_200() { local deadline=$((SECONDS + $2)); until curl -fsS -o /dev/null "$1" 2>/dev/null; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.02; done; }

BACKEND=9180; PORT=9181
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; client_body_buffer_size 128k;
  server { listen 127.0.0.1:$BACKEND; location / { return 200 "ok\n"; } } }
CONF
nginx -c "$work/nginx.conf" -p "$work"
source bench/proxy/loadwise.sh
loadwise_build "$work"
printf 'wrk.method = "POST"\nwrk.body = string.rep("x", 1024)\n' > "$work/post.lua"

settings=(
  "default|"
  "gen0 4 MiB|DOTNET_GCgen0size=0x400000"
  "gen0 1 MiB|DOTNET_GCgen0size=0x100000"
  "conserve 7|DOTNET_GCConserveMemory=7"
  "server GC, DATAS|DOTNET_gcServer=1 DOTNET_GCDynamicAdaptationMode=1"
  "server GC, no DATAS|DOTNET_gcServer=1 DOTNET_GCDynamicAdaptationMode=0"
  "server GC, DATAS, affinitize off|DOTNET_gcServer=1 DOTNET_GCDynamicAdaptationMode=1 DOTNET_GCNoAffinitize=1"
)
paths=("httpclient|false" "direct|true")
gc_figures() { curl -fsS "http://127.0.0.1:$PORT/metrics" | awk '/^dotnet_gc_heap_total_allocated_bytes_total / {a = $2}
  /^dotnet_gc_collections_total\{gc_heap_generation="gen0"\} / {g = $2} END {print a + 0, g + 0}'; }
mkdir -p "$work/rows"
for round in $(seq "$ROUNDS"); do
  for entry in "${settings[@]}"; do
    label=${entry%%|*}; env_vars=${entry#*|}
    for p in "${paths[@]}"; do
      path=${p%%|*}; direct=${p#*|}
      cat > "$work/config.json" <<JSON
{ "Listen": [ "http://127.0.0.1:$PORT" ], "Backends": [ { "Id": "nginx", "Url": "http://127.0.0.1:$BACKEND" } ],
  "HealthChecks": { "Enabled": false }, "Log": { "Level": "Warning" }, "Performance": { "DirectHttp1": $direct } }
JSON
      log "round $round, $label, $path"
      # shellcheck disable=SC2086
      setsid env $env_vars "$LOADWISE_AOT" --config "$work/config.json" > "$work/proxy.log" 2>&1 &
      proxy_pid=$!
      wait_for_200 "http://127.0.0.1:$PORT/metrics" 30
      idle=$(rss_kb "$proxy_pid")
      before=$(gc_figures)
      peak=0
      wrk -t2 -c64 -d"${DURATION}s" -s "$work/post.lua" "http://127.0.0.1:$PORT/" > "$work/wrk.txt" &
      wrk_pid=$!
      while kill -0 "$wrk_pid" 2>/dev/null; do r=$(rss_kb "$proxy_pid"); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.5; done
      wait "$wrk_pid"
      after=$(gc_figures)
      sleep 5
      settled=$(rss_kb "$proxy_pid")
      requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
      rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/wrk.txt")
      awk -v r="$round" -v rps="$rps" -v i="$idle" -v p="$peak" -v s="$settled" -v n="$requests" -v a="$before" -v b="$after" 'BEGIN {
        split(a, x, " "); split(b, y, " ");
        printf "%s %s %.1f %.1f %.1f %d %.0f\n", r, rps, i / 1024, p / 1024, s / 1024, y[2] - x[2], (y[1] - x[1]) / n }' \
        >> "$work/rows/$label|$path"
      kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=
    done
  done
done

median_col() { awk -v c="$2" '{print $c}' "$work/rows/$1" | median; }
{
  echo "# loadwise-proxy under GC settings"
  echo
  echo "- date: $(date -u +%Y-%m-%d), machine: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- POST 1 KB, wrk -t2 -c64 for ${DURATION} s, one nginx backend (return 200); medians of $ROUNDS rounds, settings interleaved"
  echo "- httpclient: Performance.DirectHttp1=false (the path https backends take, which allocates); direct: the shipped path"
  echo "- command: \`ROUNDS=$ROUNDS DURATION=$DURATION bash bench/proxy/gc-settings.sh\`"
  echo
  echo "| setting | path | rps | idle RSS MiB | peak RSS MiB | RSS 5 s after MiB | gen0 GCs | B allocated / request |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for entry in "${settings[@]}"; do
    label=${entry%%|*}; env_vars=${entry#*|}
    for p in "${paths[@]}"; do
      path=${p%%|*}; f="$label|$path"
      echo "| $label (\`${env_vars:-none}\`) | $path | $(median_col "$f" 2) | $(median_col "$f" 3) | $(median_col "$f" 4) | $(median_col "$f" 5) | $(median_col "$f" 6) | $(median_col "$f" 7) |"
    done
  done
} | tee "$OUT"
