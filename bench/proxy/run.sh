#!/usr/bin/env bash
# Loadwise proxy vs nginx vs HAProxy, all in front of one nginx backend serving 1 KB on 127.0.0.1.
# Every row gets the same wrk threads, connections and duration; every proxy keeps backend connections alive and runs
# as many workers as cores. Loopback only; each wrk run stops by itself.
#
# Single runs on a shared machine move by 10-30%, so the rows run in ROUNDS rounds, each round in its own order, and
# every figure in the table is the median of its row's rounds; the rounds themselves are printed below the table.
# Round r takes the rows at a stride of (r-1) mod 4 + 1 from start r-1 (5 rows: every stride is a permutation), so
# each row starts some rounds and follows a different row in each (a plain rotation keeps every row's neighbour: the
# AOT row always ran right after the direct row's 85k requests per second).
#
# SCENARIO picks the request: get (a 1 KB static page), post1k or post64k (a 1 KB or 64 KiB body up, answered by the
# backend's `return 200` with a short body).
#
#   bash bench/proxy/run.sh                 # 3 rounds, 10 s per row, results to bench/results/proxy-vs-nginx-haproxy.md
#   SCENARIO=post1k bash bench/proxy/run.sh # results to bench/results/proxy-post-1k.md
#   ROUNDS=5 DURATION=30s CONNECTIONS=128 bash bench/proxy/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
[[ "$ROUNDS" =~ ^[1-9]$ ]] || { echo "ROUNDS: got '$ROUNDS', expected 1-9" >&2; exit 2; }
CORES=$(nproc)
SCENARIO=${SCENARIO:-get}
case "$SCENARIO" in
  get) body_bytes=0; path=/; default_out=bench/results/proxy-vs-nginx-haproxy.md ;;
  post1k) body_bytes=1024; path=/upload; default_out=bench/results/proxy-post-1k.md ;;
  post64k) body_bytes=65536; path=/upload; default_out=bench/results/proxy-post-64k.md ;;
  *) echo "SCENARIO: got '$SCENARIO', expected get, post1k or post64k" >&2; exit 2 ;;
esac
OUT=${OUT:-$default_out}
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
  client_body_buffer_size 128k; # bodies stay in memory (nginx writes larger ones to a temp file)
  server {
    listen 127.0.0.1:$BACKEND; root $work/www;
    location / { index index.html; }
    location = /upload { return 200 "ok\n"; } # nginx reads and discards the body
  }
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
    client_body_buffer_size 128k; # a 64 KiB body is held in memory, not written to a temp file
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

# Start to first 200, timed by a poller that is already running (spawning curl per try would add milliseconds): the
# median of three starts, each stopped again. The process measured in the rounds is then started as the JIT row's is
# (setsid from this shell), so that both rows run under the same conditions.
starts=()
for try in 1 2 3; do
  starts+=("$(python3 bench/proxy/first200.py "http://127.0.0.1:$AOT_PORT/" -- "$LOADWISE_AOT" --config "$work/loadwise-aot.json" 2> "$work/aot.pid")")
  started_pid=$(tail -n 1 "$work/aot.pid")
  kill "$started_pid"
  for _ in $(seq 200); do kill -0 "$started_pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$started_pid" 2>/dev/null || true
done
first_200_ms=$(printf '%s\n' "${starts[@]}" | median)
log "start to first 200: ${starts[*]} ms (median $first_200_ms)"
setsid "$LOADWISE_AOT" --config "$work/loadwise-aot.json" > "$work/logs/aot.log" 2>&1 &
aot_pid=$!; pids+=("$aot_pid")
wait_for_200 "http://127.0.0.1:$AOT_PORT/" 30
sleep 1
aot_idle_rss=$(rss_kb "$aot_pid")

# Its own session, like every other row's process (daemons, and first200.py's start): with the kernel's autogroup
# scheduling a process in wrk's session would share wrk's CPU share.
setsid dotnet "$LOADWISE_JIT" --config "$work/loadwise-jit.json" > "$work/logs/jit.log" 2>&1 &
jit_pid=$!; pids+=("$jit_pid")
wait_for_200 "http://127.0.0.1:$JIT_PORT/" 30
jit_idle_rss=$(rss_kb "$jit_pid")

# --- the run -------------------------------------------------------------------------------------------------------
# The request: a GET, or a POST of body_bytes through a wrk script.
wrk_script=()
if [ "$body_bytes" -gt 0 ]; then
  cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = string.rep("x", $body_bytes)
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
  wrk_script=(-s "$work/post.lua")
  for p in $BACKEND $AOT_PORT $NGINX_PORT $HAPROXY_PORT; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$work/post.lua" "http://127.0.0.1:$p$path")
    [ "$code" = 200 ] || { echo "POST $path on port $p answered $code, expected 200" >&2; exit 1; }
  done
fi
# Each measured run appends "round rps p50 p99 errors cpu" to $work/rows/<name>.
mkdir -p "$work/rows" "$work/gc"
# CPU time (user + system, clock ticks) of a process and its children (nginx's workers).
cpu_ticks() { # pid
  local total=0 p
  for p in "$1" $(pgrep -P "$1"); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
# A loadwise row's runtime figures from its /metrics: bytes allocated, gen0 collections, GC pause seconds.
gc_figures() { # port
  curl -fsS "http://127.0.0.1:$1/metrics" | awk '/^dotnet_gc_heap_total_allocated_bytes_total / {a = $2}
    /^dotnet_gc_collections_total\{gc_heap_generation="gen0"\} / {g = $2} /^dotnet_gc_pause_time_seconds_total / {p = $2}
    END {print a + 0, g + 0, p + 0}'
}
run_row() { # round name port pid (whose CPU per request is reported)
  local round=$1 name=$2 port=$3 pid=$4 file="$work/wrk-$2-$1.txt" before after requests
  log "round $round/$ROUNDS, $name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
  # A short warm-up so the JIT row is measured at tier 1 and pools are filled.
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "${wrk_script[@]}" "http://127.0.0.1:$port$path" > /dev/null
  [[ $name == loadwise-* ]] && gc_before=$(gc_figures "$port")
  before=$(cpu_ticks "$pid")
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${wrk_script[@]}" "http://127.0.0.1:$port$path" > "$file"
  after=$(cpu_ticks "$pid")
  requests=$(awk '/requests in/ {print $1}' "$file")
  if [[ $name == loadwise-* ]]; then
    # Managed bytes allocated per request, gen0 collections and GC pause (ms) over the measured run, from the
    # proxy's own /metrics (the runtime's meter); the two scrapes add a few hundred bytes, not one per request.
    gc_after=$(gc_figures "$port")
    awk -v r="$round" -v n="$requests" -v a="$gc_before" -v b="$gc_after" 'BEGIN { split(a, x, " "); split(b, y, " ");
      printf "%s %.1f %d %.1f\n", r, (y[1] - x[1]) / n, y[2] - x[2], (y[3] - x[3]) * 1000 }' >> "$work/gc/$name"
  fi
  local non2xx sock
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$file"); sock=$(awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}' "$file")
  printf '%s %s %s %s %s %s\n' "$round" \
    "$(awk '/Requests\/sec/ {print $2}' "$file")" \
    "$(awk '$1=="50%" {print $2}' "$file" | wrk_ms)" \
    "$(awk '$1=="99%" {print $2}' "$file" | wrk_ms)" \
    $(( ${non2xx:-0} + ${sock:-0} )) \
    "$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')" \
    >> "$work/rows/$name"
}

# wrk prints latencies with units; normalise to milliseconds for the table.

names=(direct loadwise-aot loadwise-jit nginx haproxy)
declare -A port=([direct]=$BACKEND [loadwise-aot]=$AOT_PORT [loadwise-jit]=$JIT_PORT [nginx]=$NGINX_PORT [haproxy]=$HAPROXY_PORT)
declare -A pid=([direct]="$(cat "$work/nginx-backend.pid")" [loadwise-aot]=$aot_pid [loadwise-jit]=$jit_pid
  [nginx]="$(cat "$work/nginx-proxy.pid")" [haproxy]="$(cat "$work/haproxy.pid")")
aot_load_rss=0
for round in $(seq "$ROUNDS"); do
  for i in "${!names[@]}"; do
    name=${names[$(( (round - 1 + i * ((round - 1) % 4 + 1)) % ${#names[@]} ))]}
    if [ "$name" = loadwise-aot ]; then
      # RSS under load: sampled from the side, mid-run (after the 2 s warm-up); the largest of the rounds.
      ( sleep 6; rss_kb "$aot_pid" > "$work/aot-load-rss" ) &
      sampler=$!
      run_row "$round" "$name" "${port[$name]}" "${pid[$name]}"
      wait "$sampler"
      sampled=$(cat "$work/aot-load-rss")
      [ "$sampled" -gt "$aot_load_rss" ] && aot_load_rss=$sampled
    else
      run_row "$round" "$name" "${port[$name]}" "${pid[$name]}"
    fi
  done
done

sleep 2
aot_after_rss=$(rss_kb "$aot_pid")

# The median of one column (2 rps, 3 p50, 4 p99, 6 CPU) of a row's rounds; errors are summed over the rounds.
column_median() { awk -v c="$2" '{print $c}' "$work/rows/$1" | median; } # name column
declare -A rps p50 p99 errors cpu
for name in "${names[@]}"; do
  rps[$name]=$(printf '%.0f' "$(column_median "$name" 2)"); p50[$name]=$(column_median "$name" 3); p99[$name]=$(column_median "$name" 4)
  cpu[$name]=$(printf '%.1f' "$(column_median "$name" 6)")
  errors[$name]=$(awk '{s += $5} END {print s}' "$work/rows/$name")
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

binary_bytes=$(stat -c %s "$LOADWISE_AOT")
{
  echo "# loadwise-proxy vs nginx vs HAProxy: $SCENARIO"
  echo
  echo "- date: $(date -u +%Y-%m-%d), machine: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $CORES cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "- wrk: $THREADS threads, $CONNECTIONS connections, $DURATION per row, after a 2 s warm-up; backend: nginx; $( [ "$body_bytes" -gt 0 ] && echo "POST $path with a $body_bytes-byte body, answered by \`return 200\` (3 bytes)" || echo "GET /, a 1 KB static body")"
  echo "- $ROUNDS rounds, the rows in a different order each round (no fixed neighbours); every figure is the median of the row's rounds (errors: their sum)"
  echo "- every proxy: keep-alive to the backend, $CORES workers/threads; all processes share the same $CORES cores (CPU-bound)"
  echo "- command: \`SCENARIO=$SCENARIO ROUNDS=$ROUNDS THREADS=$THREADS CONNECTIONS=$CONNECTIONS DURATION=$DURATION bash bench/proxy/run.sh\`"
  echo
  echo "| row | rps | p50 ms | p99 ms | errors | rps / HAProxy | rps / nginx | CPU us per request |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for name in "${names[@]}"; do
    echo "| $name | ${rps[$name]} | ${p50[$name]} | ${p99[$name]} | ${errors[$name]} | $(ratio "${rps[$name]}" "${rps[haproxy]}") | $(ratio "${rps[$name]}" "${rps[nginx]}") | ${cpu[$name]} |"
  done
  echo
  echo "CPU us per request: user + system time of the row's proxy process (with its workers) over the measured run,"
  echo "divided by the requests it served; the direct row shows the backend's own. All rows share the same 2 cores, so"
  echo "this is the figure that decides rps: the less a proxy spends, the more is left for wrk and the backend."
  echo
  echo "| loadwise-proxy (AOT) | value |"
  echo "|---|---:|"
  echo "| start to first 200 (bench/proxy/first200.py, median of 3 starts: ${starts[*]}) | ${first_200_ms} ms |"
  echo "| idle RSS | $((aot_idle_rss / 1024)) MiB |"
  echo "| RSS under load (largest mid-run sample of the rounds) | $((aot_load_rss / 1024)) MiB |"
  echo "| RSS 2 s after the last round | $((aot_after_rss / 1024)) MiB |"
  echo "| binary size | $(awk -v b="$binary_bytes" 'BEGIN { printf "%.1f MiB (%.2f MB, %d bytes)", b / 1048576, b / 1e6, b }') |"
  echo "| JIT idle RSS | $((jit_idle_rss / 1024)) MiB |"
  for name in loadwise-aot loadwise-jit; do
    echo "| $name: managed bytes allocated per request (median of the rounds) | $(awk '{print $2}' "$work/gc/$name" | median) B |"
    echo "| $name: gen0 collections per measured run (median) / GC pause per run (median) | $(awk '{print $3}' "$work/gc/$name" | median) / $(awk '{print $4}' "$work/gc/$name" | median) ms |"
  done
  echo
  echo "The rounds (rps, p99 ms, CPU us per request):"
  echo
  echo "| round |$(printf ' %s |' "${names[@]}")"
  echo "|---|$(printf -- '---:|%.0s' "${names[@]}")"
  for round in $(seq "$ROUNDS"); do
    printf '| %s |' "$round"
    for name in "${names[@]}"; do
      awk -v r="$round" '$1 == r { printf " %s, %s, %s |", $2, $4, $6 }' "$work/rows/$name"
    done
    echo
  done
} | tee "$OUT"
