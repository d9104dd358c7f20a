#!/usr/bin/env bash
# Scrape cost, idle RSS and promtool check of one loadwise-proxy binary, all on 127.0.0.1. Prints key=value lines;
# saves the scrape (text and OpenMetrics), promtool's output and wrk's to $OUTDIR. Every wrk run stops by itself.
#
#   BIN=artifacts/aot/loadwise-proxy BACKENDS=50 OUTDIR=/tmp/x bash bench/metrics/scrape-aot.sh
#   EXTERNAL=1 ...: backends in one nginx instead of the demo backends in the proxy process
#
# The OpenTelemetry variants compared in bench/results/metrics-exporter-vs-otel.md: `git apply
# bench/metrics/otel-wiring.patch`, then publish with -p:MetricsExporter=OTel, OTelOtlp or HandOtlp; run those with
# LOADWISE_OTEL_METERS='Microsoft.AspNetCore.*' to export the same meters as the hand-written exporter.
#
# scrape_cpu_us / scrape_alloc_bytes: the server process's CPU (utime+stime from /proc, less its idle CPU over the
# same wall time) and allocated bytes (the runtime's dotnet_gc_heap_total_allocated_bytes_total, read from the scrape
# itself) per request over a wrk run of scrapes on one keep-alive connection. http404_*: the same for a 404 from the
# admin listener (Kestrel's per-request cost without an exposition); net_*: the difference.
set -euo pipefail
BIN=${BIN:?the loadwise-proxy binary}
BACKENDS=${BACKENDS:-3}
DURATION=${DURATION:-5}
OUTDIR=${OUTDIR:-$(mktemp -d)}
BASE=${BASE:-23000}
mkdir -p "$OUTDIR"
proxy=http://127.0.0.1:$BASE
admin=http://127.0.0.1:$((BASE + 100))
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$OUTDIR/nginx.pid" ] && kill "$(cat "$OUTDIR/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
if [ "${EXTERNAL:-0}" = 1 ]; then
  # The backends in another process (one nginx listening on every backend port), so the proxy process holds only the
  # proxy's own meters: with LOADWISE_OTEL_METERS=Microsoft.AspNetCore.* both exporters then export the same meters.
  mkdir -p "$OUTDIR/www" "$OUTDIR/nginx-tmp"
  chmod 755 "$OUTDIR" "$OUTDIR/www"
  head -c 1024 /dev/zero | tr '\0' 'x' > "$OUTDIR/www/index.html"
  echo ok > "$OUTDIR/www/health"
  {
    echo "worker_processes 1; pid $OUTDIR/nginx.pid; error_log $OUTDIR/nginx-error.log;"
    echo "events { worker_connections 1024; }"
    echo "http { access_log off; client_body_temp_path $OUTDIR/nginx-tmp; proxy_temp_path $OUTDIR/nginx-tmp; fastcgi_temp_path $OUTDIR/nginx-tmp; uwsgi_temp_path $OUTDIR/nginx-tmp; scgi_temp_path $OUTDIR/nginx-tmp;"
    echo "  server {"
    for ((i = 0; i < BACKENDS; i++)); do echo "    listen 127.0.0.1:$((BASE + 1 + i));"; done
    echo "    root $OUTDIR/www; location / { try_files \$uri /index.html; } } }"
  } > "$OUTDIR/nginx.conf"
  env -u NGINX nginx -c "$OUTDIR/nginx.conf"
  {
    echo "{ \"Listen\": [ \"$proxy\" ], \"Admin\": { \"Listen\": \"$admin\" }, \"Log\": { \"Level\": \"Warning\" },"
    echo "  \"Strategy\": { \"Name\": \"RoundRobin\" }, \"Backends\": ["
    for ((i = 0; i < BACKENDS; i++)); do
      [ $i -gt 0 ] && echo ","
      echo "    { \"Id\": \"backend-$((i + 1))\", \"Url\": \"http://127.0.0.1:$((BASE + 1 + i))\" }"
    done
    echo "  ] }"
  } > "$OUTDIR/proxy.json"
  args=(--config "$OUTDIR/proxy.json")
else
  args=(--demo "--Listen:0=$proxy" "--Admin:Listen=$admin" --Log:Level=Warning)
  for ((i = 0; i < BACKENDS; i++)); do
    args+=("--Backends:$i:Id=backend-$((i + 1))" "--Backends:$i:Url=http://127.0.0.1:$((BASE + 1 + i))")
  done
fi
"$BIN" "${args[@]}" > "$OUTDIR/proxy.log" 2>&1 &
pid=$!
pids+=("$pid")
deadline=$((SECONDS + 30))
until curl -fsS -o /dev/null "$proxy/" 2>/dev/null; do
  [ $SECONDS -ge $deadline ] && { echo "no 200 from $proxy within 30 s" >&2; cat "$OUTDIR/proxy.log" >&2; exit 1; }
  sleep 0.05
done

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
allocated() { curl -fsS "$admin/metrics" | awk '/^dotnet_gc_heap_total_allocated_bytes_total[ {]/ && !found {value = $2; found = 1} END {print value}'; }
hz=$(getconf CLK_TCK)

sleep 10
echo "idle_rss_kb_before_first_scrape=$(rss_kb)"
curl -fsS "$admin/metrics" > /dev/null
sleep 5
echo "idle_rss_kb_after_first_scrape=$(rss_kb)"

# Traffic on every backend, then the scrape outputs.
wrk -t1 -c8 -d3s "$proxy/" > "$OUTDIR/traffic.txt"
echo "traffic_requests=$(awk '/requests in/ {print $1}' "$OUTDIR/traffic.txt")"
curl -fsS -D "$OUTDIR/scrape.headers" "$admin/metrics" > "$OUTDIR/scrape.txt"
curl -fsS -H 'Accept: application/openmetrics-text; version=1.0.0' -D "$OUTDIR/scrape-openmetrics.headers" "$admin/metrics" > "$OUTDIR/scrape-openmetrics.txt"
echo "scrape_bytes=$(wc -c < "$OUTDIR/scrape.txt")"
echo "scrape_lines=$(grep -vc '^#' "$OUTDIR/scrape.txt")"
if promtool check metrics < "$OUTDIR/scrape.txt" > "$OUTDIR/promtool.txt" 2>&1; then echo "promtool=clean"; else echo "promtool=problems($(wc -l < "$OUTDIR/promtool.txt"))"; fi
if promtool check metrics < "$OUTDIR/scrape-openmetrics.txt" > "$OUTDIR/promtool-openmetrics.txt" 2>&1; then echo "promtool_openmetrics=clean"; else echo "promtool_openmetrics=problems($(wc -l < "$OUTDIR/promtool-openmetrics.txt"))"; fi

# One wrk run on one connection: the process's CPU and allocated bytes per request, less the idle CPU of the same
# wall time.
measure() { # url label
  local t0 a0 t1 a1 n
  a0=$(allocated); t0=$(cpu_ticks)
  wrk -t1 -c1 -d"${DURATION}s" "$1" > "$OUTDIR/wrk-$2.txt"
  t1=$(cpu_ticks); a1=$(allocated)
  n=$(awk '/requests in/ {print $1}' "$OUTDIR/wrk-$2.txt")
  echo "$2_requests=$n"
  eval "$2_cpu=$(awk -v d=$((t1 - t0 - idle)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", d / hz * 1e6 / (n + 1)}')"
  eval "$2_alloc=$(awk -v a="$a1" -v b="$a0" -v n="$n" 'BEGIN {printf "%.0f", (a - b) / (n + 1)}')"
  echo "$2_cpu_us=$(eval echo \$$2_cpu)"
  echo "$2_alloc_bytes=$(eval echo \$$2_alloc)"
}
t0=$(cpu_ticks); sleep "$DURATION"; t1=$(cpu_ticks)
idle=$((t1 - t0))
echo "idle_cpu_ticks_per_window=$idle"
measure "$admin/none" http404
measure "$admin/metrics" scrape
echo "net_scrape_cpu_us=$(awk -v a="$scrape_cpu" -v b="$http404_cpu" 'BEGIN {printf "%.1f", a - b}')"
echo "net_scrape_alloc_bytes=$((scrape_alloc - http404_alloc))"
echo "rss_kb_end=$(rss_kb)"
