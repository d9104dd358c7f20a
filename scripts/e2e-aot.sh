#!/usr/bin/env bash
# End-to-end check of the native-AOT proxy binary (called by .ci/run):
#   publish -> start --demo -> time to first 200 -> 100 requests all 200 over every backend -> promtool check metrics
#   -> admin API and status page on the admin listener (drain and ready a backend) -> access log lines, reopened on
#   SIGUSR1 -> SIGHUP reloads and the proxy keeps serving
#   -> SIGTERM with a /delay/2000 request in flight: it completes 200 and the process exits 0 before the drain timeout
#   -> a stray response on an idle backend connection never reaches another client -> TLS, HTTP/2, WebSocket -> binary size.
# Every wait is bounded; the proxy is killed on any exit. Exits non-zero on the first failure.
# Usage: bash scripts/e2e-aot.sh [--no-publish]
set -euo pipefail
cd "$(dirname "$0")/.."

out=artifacts/aot
bin="$out/loadwise-proxy"
log=artifacts/e2e-aot.log
proxy="http://127.0.0.1:3000"
admin="http://127.0.0.1:9100"
pid=""

fail() { echo "e2e-aot: FAIL: $*" >&2; [ -f "$log" ] && { echo "--- proxy log ---" >&2; cat "$log" >&2; }; exit 1; }
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ -n "${delay_pid:-}" ] && kill -0 "$delay_pid" 2>/dev/null; then
    kill -KILL "$delay_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

command -v curl >/dev/null || fail "curl is required"
command -v promtool >/dev/null || fail "promtool is required (apt-get install -y --no-install-recommends prometheus)"

if [ "${1:-}" != "--no-publish" ]; then
  echo "e2e-aot: publishing the native binary"
  rm -rf "$out"
  timeout 900 dotnet publish src/Loadwise.AotProxy/Loadwise.AotProxy.csproj -c Release -r linux-x64 \
    -o "$out" --nologo -v minimal || fail "publish failed"
fi
[ -x "$bin" ] || fail "$bin not found"

for port in 3000 8081 8082 8083 9100; do
  if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then fail "port $port is already in use"; fi
done

mkdir -p artifacts
# 0. Configuration binding works in the native binary (source-generated binder): the sample passes, a bad file fails.
"$bin" --version >/dev/null || fail "--version failed"
"$bin" --check-config samples/loadwise.json >/dev/null || fail "--check-config rejected samples/loadwise.json"
bad_config=artifacts/e2e-aot-bad.json
echo '{ "Listen": [ "http://127.0.0.1:3000" ], "Backends": [ { "Id": "a", "Url": "http://127.0.0.1:1", "Weight": "heavy" } ] }' >"$bad_config"
set +e
check_output=$("$bin" --check-config "$bad_config" 2>&1)
check_code=$?
set -e
[ "$check_code" -eq 1 ] || fail "--check-config on a bad file exited $check_code, expected 1"
[ "$check_output" = "config error: Backends:0:Weight: got 'heavy', expected an integer" ] || fail "unexpected --check-config output: $check_output"
echo "e2e-aot: --check-config accepts the sample and rejects a bad file"

# 1. Start the demo and time start -> first 200.
started=$(now_ms)
# Rate limiting on (with room for the whole run), so the native binary exercises the per-client token buckets too.
# The admin listener and the access log on too, checked after the scrape.
access_log=$(pwd)/artifacts/e2e-aot-access.log
rm -f "$access_log" "$access_log.1"
# SIGHUP's default disposition: a runner started under nohup passes SIGHUP on ignored, and the runtime keeps an
# inherited ignore, so the reload checks below would see nothing.
env --default-signal=HUP "$bin" --demo --RateLimiting:Enabled=true --RateLimiting:TokensPerSecond=1000 --RateLimiting:Burst=1000 \
  --Admin:Listen=http://127.0.0.1:9100 --AccessLog:Enabled=true "--AccessLog:Path=$access_log" >"$log" 2>&1 &
pid=$!
deadline=$(( started + 10000 ))
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$proxy/" || true)" = "200" ]; do
  kill -0 "$pid" 2>/dev/null || fail "the proxy exited during start"
  [ "$(now_ms)" -lt "$deadline" ] || fail "no 200 within 10 s"
done
first=$(( $(now_ms) - started ))
echo "e2e-aot: start to first 200: ${first} ms"
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "?")
echo "e2e-aot: RSS after start (proxy + 3 demo backends): ${rss_kb} kB"

# 2. 100 requests: all 200, every backend used.
declare -A seen=()
for i in $(seq 1 100); do
  response=$(curl -s --max-time 5 -w ' %{http_code}' "$proxy/") || fail "request $i failed"
  code=${response##* }
  name=$(echo "${response% *}" | tr -d '\n')
  [ "$code" = "200" ] || fail "request $i answered $code"
  seen[$name]=1
done
[ "${#seen[@]}" -eq 3 ] || fail "expected 3 backends used, got ${#seen[@]}: ${!seen[*]}"
echo "e2e-aot: 100 requests all 200 across ${#seen[@]} backends (${!seen[*]})"

# 3. The scrape passes promtool and has every metric.
metrics=$(curl -s --max-time 5 "$admin/metrics") || fail "scrape failed"
echo "$metrics" | promtool check metrics || fail "promtool check metrics rejected the scrape"
for name in loadwise_requests_total loadwise_requests_dropped_total loadwise_active_requests \
  loadwise_request_duration_seconds loadwise_backend_health loadwise_selections_total \
  dotnet_gc_collections_total dotnet_gc_pause_time_seconds_total dotnet_process_cpu_time_seconds_total \
  dotnet_process_memory_working_set_bytes; do
  echo "$metrics" | grep -q "^# TYPE $name " || fail "metric $name missing"
done
selections=$(echo "$metrics" | awk '/^loadwise_selections_total\{strategy="RoundRobin"\}/ {print $2}')
[ "${selections:-0}" -ge 100 ] || fail "loadwise_selections_total is ${selections:-missing}, expected >= 100"
for backend in backend-1 backend-2 backend-3; do
  echo "$metrics" | grep -q "^loadwise_backend_health{backend=\"$backend\",state=\"healthy\"} 1$" \
    || fail "$backend is not reported healthy (active probes of /health)"
done
echo "e2e-aot: promtool check metrics passed; every demo backend probed healthy"

# 3b. The admin API and the status page, in the native binary: list, drain (no request reaches the backend), ready.
backends_json=$(curl -fsS --max-time 5 "$admin/admin/backends") || fail "GET /admin/backends failed"
[ "$(echo "$backends_json" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["backends"]))')" = 3 ] \
  || fail "GET /admin/backends did not list 3 backends: $backends_json"
# Read whole, then searched: `curl | grep -q` under pipefail fails when grep stops reading first (curl exit 23).
page=$(curl -fsS --max-time 5 "$admin/admin/") || fail "GET /admin/ failed"
grep -q "<title>loadwise-proxy status</title>" <<<"$page" || fail "the status page is not served"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$proxy/admin/backends")" != 200 ] || true # forwarded to a demo backend there
drained=$(curl -fsS --max-time 5 -X POST "$admin/admin/backends/backend-1/drain") || fail "drain failed"
echo "$drained" | grep -q '"admin": "maintenance"' || fail "drain did not put backend-1 in maintenance: $drained"
for i in $(seq 1 30); do
  [ "$(curl -s --max-time 5 "$proxy/" | tr -d '\n')" != "backend-1" ] || fail "request $i reached the drained backend-1"
done
ready=$(curl -fsS --max-time 5 -X POST "$admin/admin/backends/backend-1/ready") || fail "ready failed"
grep -q '"admin": "in_service"' <<<"$ready" || fail "ready did not put backend-1 in service: $ready"
echo "e2e-aot: admin API lists 3 backends, the page is served, a drained backend got none of 30 requests, ready again"

# 3c. The access log: a line per request; after a rename, SIGUSR1 reopens the file.
lines=$(wc -l <"$access_log")
[ "$lines" -ge 130 ] || fail "the access log has $lines lines, expected at least 130 (100 + 30 requests)"
grep -q '"GET / HTTP/1.1" 200 ' "$access_log" || fail "no common-format line in the access log: $(head -n 2 "$access_log")"
mv "$access_log" "$access_log.1"
kill -USR1 "$pid"
sleep 0.3
curl -s -o /dev/null --max-time 5 "$proxy/reopened" || true
deadline=$(( $(now_ms) + 5000 ))
until [ -s "$access_log" ]; do [ "$(now_ms)" -lt "$deadline" ] || fail "no new access log after SIGUSR1"; sleep 0.05; done
grep -q '"GET /reopened HTTP/1.1"' "$access_log" || fail "the reopened access log lacks the request: $(cat "$access_log")"
echo "e2e-aot: access log wrote $lines lines; SIGUSR1 reopened it after a rename"

# 3d. SIGHUP reloads (nginx's habit) instead of ending the process, and the proxy keeps serving.
kill -HUP "$pid"
deadline=$(( $(now_ms) + 5000 ))
until grep -q "config reloaded (SIGHUP)" "$log"; do
  kill -0 "$pid" 2>/dev/null || fail "SIGHUP ended the proxy"
  [ "$(now_ms)" -lt "$deadline" ] || fail "no reload log line after SIGHUP"
  sleep 0.05
done
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$proxy/")" = 200 ] || fail "no 200 after the reload"
reloads=$(curl -fsS --max-time 5 "$admin/metrics") || fail "scrape after the reload failed"
grep -q '^loadwise_config_reloads_total{result="applied"} 1$' <<<"$reloads" || fail "the reload was not counted"
echo "e2e-aot: SIGHUP reloaded the configuration; the proxy kept serving"

# 4. SIGTERM with a request in flight: it completes with 200 and the process exits 0 before the drain timeout (30 s).
delay_out=artifacts/e2e-aot-delay.txt
curl -s --max-time 15 -o "$delay_out" -w '%{http_code}' "$proxy/delay/2000" >"$delay_out.code" &
delay_pid=$!
deadline=$(( $(now_ms) + 5000 ))
until grep -q '^loadwise_active_requests 1$' <<<"$(curl -s --max-time 1 "$admin/metrics")"; do
  [ "$(now_ms)" -lt "$deadline" ] || fail "the /delay/2000 request never got in flight"
done
signalled=$(now_ms)
kill -TERM "$pid"
sleep 0.3
if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$proxy/" || true)" = "200" ]; then
  fail "a new request was accepted during the drain"
fi
deadline=$(( signalled + 30000 ))
while kill -0 "$pid" 2>/dev/null; do
  [ "$(now_ms)" -lt "$deadline" ] || fail "still running 30 s (the drain timeout) after SIGTERM"
  sleep 0.05
done
set +e
wait "$pid"
exit_code=$?
set -e
pid=""
drained=$(( $(now_ms) - signalled ))
wait "$delay_pid" || true
delay_code=$(cat "$delay_out.code")
[ "$delay_code" = "200" ] || fail "the in-flight request answered '$delay_code', expected 200"
[ "$exit_code" -eq 0 ] || fail "exit code $exit_code after SIGTERM, expected 0"
grep -q "drain started" "$log" || fail "no drain-start log line"
grep -q "drain finished" "$log" || fail "no drain-end log line"
echo "e2e-aot: SIGTERM drained the in-flight /delay/2000 request (200: $(tr -d '\n' <"$delay_out")); exit 0 after ${drained} ms"

# A stray response on an idle pooled backend connection never reaches the next client, even when it arrives while the
# proxy is not running (frozen with SIGSTOP, as a busy CPU would hold it): 20 tries against the native binary.
timeout 120 python3 bench/soak/repro-stray-on-idle-connection.py "$bin" GET 20 >"$out/stray.log" 2>&1 \
  || { cat "$out/stray.log" >&2; fail "a stray response reached another client"; }
echo "e2e-aot: 20 of 20 clients got their own answer with stray responses arriving on idle backend connections"

# 5. Protocols in the native binary: HTTPS (HTTP/1.1 and h2 by ALPN, X-Forwarded-Proto), h2c prior knowledge, a
# WebSocket upgrade answered 101 through the tunnel, and a certificate reload on SIGHUP.
command -v openssl >/dev/null || fail "openssl is required"
tls="$out/e2e-tls"
rm -rf "$tls" && mkdir -p "$tls"
new_cert() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tls/key.pem" -out "$tls/cert.pem" \
  -days 2 -subj "/CN=$1" -addext "subjectAltName=DNS:localhost" 2>/dev/null || fail "openssl could not make a certificate"; }
fingerprint() { echo | openssl s_client -connect 127.0.0.1:3443 -servername localhost 2>/dev/null | openssl x509 -noout -fingerprint -sha256; }
new_cert first
log=artifacts/e2e-aot-protocols.log
env --default-signal=HUP "$bin" --demo --Listen:1=https://127.0.0.1:3443 --Listen:2=http://127.0.0.1:3101 --Http2:CleartextListen:0=http://127.0.0.1:3101 \
  --Tls:Listeners:0:Url=https://127.0.0.1:3443 --Tls:Listeners:0:Certificates:0:CertificateFile="$tls/cert.pem" \
  --Tls:Listeners:0:Certificates:0:KeyFile="$tls/key.pem" --Tls:WatchFiles=false >"$log" 2>&1 &
pid=$!
deadline=$(( $(now_ms) + 10000 ))
until [ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 1 https://127.0.0.1:3443/ || true)" = "200" ]; do
  kill -0 "$pid" 2>/dev/null || fail "the proxy with an https listener exited during start"
  [ "$(now_ms)" -lt "$deadline" ] || fail "no 200 over https within 10 s"
done
[ "$(curl -sk --http2 -o /dev/null -w '%{http_version}' https://127.0.0.1:3443/)" = "2" ] || fail "https did not negotiate h2"
grep -q "^X-Forwarded-Proto: https$" <<<"$(curl -sk --http1.1 https://127.0.0.1:3443/headers)" || fail "no X-Forwarded-Proto: https"
[ "$(curl -s --http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}' http://127.0.0.1:3101/)" = "2 200" ] || fail "h2c prior knowledge failed"
upgrade=$(curl -s -i -N --max-time 2 -H "Connection: Upgrade" -H "Upgrade: websocket" -H "Sec-WebSocket-Version: 13" \
  -H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" "$proxy/ws" || true)
echo "$upgrade" | head -n 1 | grep -q "^HTTP/1.1 101" || fail "the WebSocket upgrade got: $(echo "$upgrade" | head -n 1)"
before=$(fingerprint)
new_cert second
kill -HUP "$pid"
deadline=$(( $(now_ms) + 5000 ))
until [ "$(fingerprint)" != "$before" ]; do
  [ "$(now_ms)" -lt "$deadline" ] || fail "SIGHUP did not reload the certificate"
  sleep 0.1
done
kill -TERM "$pid"; wait "$pid" || true; pid=""
echo "e2e-aot: https (h1, h2, X-Forwarded-Proto), h2c, WebSocket 101 and a SIGHUP certificate reload work in the native binary"

size=$(stat -c %s "$bin")
echo "e2e-aot: binary size: $size bytes ($(awk "BEGIN { printf \"%.1f\", $size / 1048576 }") MiB)"
echo "e2e-aot: OK"
