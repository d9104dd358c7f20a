#!/usr/bin/env bash
# TLS front ends compared: loadwise-proxy (native), nginx and HAProxy terminating TLS with the same certificate (EC
# P-256, made here with openssl) and their default TLS 1.3 suites, in front of one nginx backend serving 1 KB over
# plain HTTP on 127.0.0.1. The rows run in ROUNDS rounds, each round in a rotated order; figures are medians.
#
#   bash bench/proxy/https.sh            # MODE=h1: wrk, keep-alive HTTPS GET 1 KB
#   MODE=h2 bash bench/proxy/https.sh    # h2load, 64 streams over 8 TLS connections (ALPN h2); see h2.sh
#   LOADWISE_BIN=/path/to/loadwise-proxy ROUNDS=5 DURATION=10 bash bench/proxy/https.sh
# Results are printed as a markdown table with the load average before and after; copy them to bench/results/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
MODE=${MODE:-h1}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CORES=$(nproc)
work=$(mktemp -d /tmp/loadwise-https-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for f in "$work"/nginx-*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '[bench] %s\n' "$*" >&2; }
source bench/proxy/loadwise.sh
for tool in nginx haproxy wrk h2load openssl curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y nginx haproxy wrk nghttp2-client openssl curl" >&2; exit 1; }
done

BACKEND=9180; LOADWISE=9181; NGINX=9182; HAPROXY=9183
wait_for_200() { local deadline=$((SECONDS + $2)); until curl -fsSk -o /dev/null "$1" 2>/dev/null; do [ $SECONDS -ge $deadline ] && { echo "no 200 from $1" >&2; return 1; }; sleep 0.05; done; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 2 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
cat "$work/cert.pem" "$work/key.pem" > "$work/haproxy.pem"
mkdir -p "$work/www" "$work/logs"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/index.html"

cat > "$work/nginx-backend.conf" <<CONF
worker_processes $CORES; pid $work/nginx-backend.pid; error_log $work/logs/backend.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$BACKEND; root $work/www; location / { index index.html; } } }
CONF
nginx -c "$work/nginx-backend.conf" -p "$work"

cat > "$work/nginx-proxy.conf" <<CONF
worker_processes $CORES; pid $work/nginx-proxy.pid; error_log $work/logs/proxy.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$BACKEND; keepalive 128; }
  server { listen 127.0.0.1:$NGINX ssl http2;
    ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem; ssl_protocols TLSv1.2 TLSv1.3;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
nginx -c "$work/nginx-proxy.conf" -p "$work"

cat > "$work/haproxy.cfg" <<CONF
global
  nbthread $CORES
  maxconn 4000
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind 127.0.0.1:$HAPROXY ssl crt $work/haproxy.pem alpn h2,http/1.1
  default_backend be
backend be
  server s1 127.0.0.1:$BACKEND
CONF
haproxy -f "$work/haproxy.cfg" -D -p "$work/haproxy.pid"
pids+=("$(cat "$work/haproxy.pid")")

if [ -z "${LOADWISE_BIN:-}" ]; then loadwise_build "$work"; LOADWISE_BIN=$LOADWISE_AOT; fi
cat > "$work/loadwise.json" <<JSON
{
  "Listen": [ "https://127.0.0.1:$LOADWISE" ],
  "Tls": { "Listeners": [ { "Url": "https://127.0.0.1:$LOADWISE", "Certificates": [ { "CertificateFile": "$work/cert.pem", "KeyFile": "$work/key.pem" } ] } ] },
  "Backends": [ { "Id": "nginx", "Url": "http://127.0.0.1:$BACKEND" } ],
  "HealthChecks": { "Path": "/" },
  "Log": { "Level": "Warning" }
}
JSON
setsid "$LOADWISE_BIN" --config "$work/loadwise.json" > "$work/logs/loadwise.log" 2>&1 &
pids+=("$!")
for port in $LOADWISE $NGINX $HAPROXY; do wait_for_200 "https://127.0.0.1:$port/" 30; done

run_row() { # port -> "rps p99ms"
  if [ "$MODE" = h2 ]; then
    h2load -c 8 -m 8 -t 2 -D "$DURATION" --warm-up-time=1 "https://127.0.0.1:$1/" > "$work/out" 2>&1
    rps=$(awk '/^finished in/ { gsub(",", "", $4); print $4 }' "$work/out")
    # h2load prints min/max/mean/sd per request time, no percentile: the mean and max are reported instead.
    p99=$(awk '/^time for request:/ { print $6 " mean, max " $5 }' "$work/out")
    echo "$rps|$p99"
  else
    wrk -t 2 -c 64 -d "${DURATION}s" --latency "https://127.0.0.1:$1/" > "$work/out" 2>&1
    rps=$(awk '/^Requests\/sec/ { print $2 }' "$work/out")
    p99=$(awk '$1 == "99%" { print $2 }' "$work/out" | wrk_ms)
    echo "$rps|$p99"
  fi
}

names=(loadwise nginx haproxy); ports=($LOADWISE $NGINX $HAPROXY)
declare -A rps p99
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
  for k in 0 1 2; do
    i=$(( (k + round - 1) % 3 ))
    IFS='|' read -r r p <<< "$(run_row "${ports[$i]}")"
    rps[${names[$i]}]+="$r "; p99[${names[$i]}]+="$p;"
    log "round $round ${names[$i]}: $r rps, $p"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "| front end ($MODE, $CORES cores) | median rps | rounds (rps) | latency per round |"
echo "|---|---:|---|---|"
for n in "${names[@]}"; do
  med=$(tr ' ' '\n' <<< "${rps[$n]}" | grep -v '^$' | median)
  echo "| $n | $med | ${rps[$n]} | ${p99[$n]} |"
done
echo
echo "load average before: $load_before; after: $load_after; $(date -u +%Y-%m-%d) $(uname -m), $(nproc) cores"
