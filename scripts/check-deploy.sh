#!/usr/bin/env bash
# Checks the Prometheus and Grafana kit in deploy/ against a live proxy and a real Prometheus (called by .ci/run):
#   1. promtool check config deploy/prometheus.yml;
#   2. the dashboard parses, and every panel and every target uses the datasource uid of the provisioning file;
#      docker-compose.yml's mounts, service names and admin port agree with the other files (text checks, no Docker);
#   3. starts the proxy in demo mode (artifacts/aot/loadwise-proxy when published, else dotnet run --no-build) with a
#      fourth backend that is down, a small retry budget and a small rate limit, and Prometheus (scraping every 1 s,
#      with deploy/prometheus.yml's target rewritten to the proxy's admin listener);
#   4. puts load on the proxy that makes every panel's series exist: 200s and 404s, retries and 502s (the down
#      backend), a backend turning unhealthy, rate_limited drops;
#   5. runs every PromQL expression of the dashboard through Prometheus's HTTP API and fails on an error, an empty
#      result or a result that is all NaN.
# 127.0.0.1 and free ports only; every wait is bounded; the proxy and Prometheus are killed on any exit.
# Usage: bash scripts/check-deploy.sh
set -euo pipefail +m
cd "$(dirname "$0")/.."

dashboard=deploy/grafana/dashboards/loadwise.json
datasources=deploy/grafana/provisioning/datasources/prometheus.yml
scrape_target="proxy:9100" # deploy/prometheus.yml's target, replaced here by the proxy's admin listener
started_at=$(date +%s%N)
work=$(mktemp -d)
proxy_pid=""
prometheus_pid=""

fail() {
  echo "check-deploy: FAIL: $*" >&2
  for log in "$work/proxy.log" "$work/prometheus.log"; do
    [ -s "$log" ] && { echo "--- $(basename "$log") (last 30 lines) ---" >&2; tail -n 30 "$log" >&2; }
  done
  exit 1
}
# Each background process runs in a session of its own (setsid), so that its whole group goes: dotnet run's child too.
stop_group() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
}
cleanup() {
  stop_group "$proxy_pid"
  stop_group "$prometheus_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

for tool in promtool prometheus curl python3; do
  command -v "$tool" >/dev/null || fail "$tool is required (bash scripts/install-tools.sh installs prometheus and curl)"
done

# 1. The configuration as shipped.
promtool check config deploy/prometheus.yml >/dev/null || fail "promtool check config deploy/prometheus.yml"
echo "check-deploy: promtool check config deploy/prometheus.yml passed"

# 2. The dashboard parses; panels and targets use the provisioned datasource.
uid=$(sed -n 's/^[[:space:]]*uid:[[:space:]]*["'\'']\{0,1\}\([A-Za-z0-9_-]*\)["'\'']\{0,1\}[[:space:]]*$/\1/p' "$datasources")
[ -n "$uid" ] && [ "$(wc -l <<<"$uid")" -eq 1 ] || fail "expected one datasource uid in $datasources, found '${uid}'"
python3 - "$dashboard" "$uid" <<'PY' || fail "the dashboard's datasources (above)"
import json, sys
path, uid = sys.argv[1], sys.argv[2]
try:
    dashboard = json.load(open(path))
except ValueError as e:
    sys.exit(f"{path} does not parse: {e}")
def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))
problems, ids, targets = [], set(), 0
for p in panels(dashboard.get("panels", [])):
    name = f"panel {p.get('id')} '{p.get('title')}'"
    if p.get("id") in ids:
        problems.append(f"{name}: id used twice")
    ids.add(p.get("id"))
    if p.get("type") == "row":
        continue
    ds = p.get("datasource")
    if not isinstance(ds, dict) or ds.get("uid") != uid or ds.get("type") != "prometheus":
        problems.append(f"{name}: datasource {ds!r}, expected {{'type': 'prometheus', 'uid': '{uid}'}}")
    if not p.get("targets"):
        problems.append(f"{name}: no targets")
    for t in p.get("targets", []):
        targets += 1
        tds = t.get("datasource")
        if not isinstance(tds, dict) or tds.get("uid") != uid:
            problems.append(f"{name} target {t.get('refId')}: datasource {tds!r}, expected uid '{uid}'")
        if not t.get("expr", "").strip():
            problems.append(f"{name} target {t.get('refId')}: no expr")
if not ids:
    problems.append("no panels")
for line in problems:
    print("  " + line, file=sys.stderr)
if problems:
    sys.exit(1)
print(f"check-deploy: {path}: {len(ids)} panels, {targets} targets, all on datasource uid '{uid}'")
PY

# The compose wiring, which Docker is not here to try: mounts, service names and ports agree across the files.
compose=deploy/docker-compose.yml
provider_path=$(sed -n 's/^[[:space:]]*path:[[:space:]]*\([^[:space:]]*\)[[:space:]]*$/\1/p' deploy/grafana/provisioning/dashboards/loadwise.yml)
datasource_host=$(sed -n 's|^[[:space:]]*url:[[:space:]]*http://\([^:/]*\).*|\1|p' "$datasources")
wired() { grep -qE "$1" "$compose" || fail "$compose: no line matching '$1' ($2)"; }
wired "^ *- \./grafana/dashboards:$provider_path(:ro)?\$" "the dashboards at the provider's path '$provider_path'"
wired "^ *- \./grafana/provisioning:/etc/grafana/provisioning(:ro)?\$" "the provisioning folder"
wired "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: $provider_path/$(basename "$dashboard")\$" "the home dashboard"
wired "^ *- \./prometheus\.yml:/etc/prometheus/prometheus\.yml(:ro)?\$" "prometheus.yml mounted where Prometheus reads it"
wired "^  ${scrape_target%%:*}:\$" "a service named after the scrape target's host"
wired "^ *- --Admin:Listen=http://0\.0\.0\.0:${scrape_target##*:}\$" "the admin listener on the scrape target's port"
wired "^  $datasource_host:\$" "a service named after the datasource's host"
echo "check-deploy: $compose mounts the provisioning and dashboards, and its services match the scrape target and datasource"

# 3. Free ports on 127.0.0.1: proxy, admin (scrape), three demo backends, Prometheus.
read -r proxy_port admin_port b1_port b2_port b3_port prometheus_port < <(python3 - <<'PY'
import socket
socks = []
for _ in range(6):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(*(s.getsockname()[1] for s in socks))
PY
) || fail "could not find free ports"
proxy="http://127.0.0.1:$proxy_port"
admin="http://127.0.0.1:$admin_port"
prometheus_url="http://127.0.0.1:$prometheus_port"

# Prometheus's configuration: deploy/prometheus.yml with the target on the admin listener and a 1 s interval.
grep -q "\"$scrape_target\"" deploy/prometheus.yml || fail "deploy/prometheus.yml has no target \"$scrape_target\""
sed -e "s/\"$scrape_target\"/\"127.0.0.1:$admin_port\"/" -e 's/^\([[:space:]]*\)\(scrape\|evaluation\)_interval:.*/\1\2_interval: 1s/' \
  deploy/prometheus.yml >"$work/prometheus.yml"
grep -q "127.0.0.1:$admin_port" "$work/prometheus.yml" || fail "could not rewrite the scrape target"
promtool check config "$work/prometheus.yml" >/dev/null || fail "promtool rejected the rewritten configuration"

if [ -x artifacts/aot/loadwise-proxy ]; then
  proxy_cmd=(artifacts/aot/loadwise-proxy)
else
  proxy_cmd=(dotnet run --project src/Loadwise.AotProxy -c Release --no-build --)
fi
# backend-down: the demo starts its backend on a port the system picks (port 0), while the proxy dials port 0 and is
# refused: a backend that is down. Its failures (one probe at start, then requests; the next probe only after a
# minute, so requests decide) make it unhealthy on the eighth; until then one of its requests a second is retried
# (the retry budget: 1 per 1 s window, no percentage) and the others answered 502. 16 tokens a second with a burst of
# 10 against the 32 requests a second below gives rate_limited drops from the first second on.
echo "check-deploy: starting ${proxy_cmd[*]} --demo on $proxy (scrape on $admin) and Prometheus on $prometheus_url"
setsid "${proxy_cmd[@]}" --demo \
  "--Listen:0=$proxy" "--Admin:Listen=$admin" \
  "--Backends:0:Url=http://127.0.0.1:$b1_port" "--Backends:1:Url=http://127.0.0.1:$b2_port" \
  "--Backends:2:Url=http://127.0.0.1:$b3_port" --Backends:3:Id=backend-down --Backends:3:Url=http://127.0.0.1:0 \
  --HealthChecks:IntervalMs=60000 --HealthChecks:UnhealthyThreshold=8 \
  --Retries:BudgetPercent=0 --Retries:BudgetMinRetries=1 --Retries:BudgetWindowMs=1000 \
  --RateLimiting:Enabled=true --RateLimiting:TokensPerSecond=16 --RateLimiting:Burst=10 \
  --Drain:TimeoutMs=1000 >"$work/proxy.log" 2>&1 &
proxy_pid=$!
setsid prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prometheus_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
prometheus_pid=$!

# Bounded waits: the proxy's scrape answers, Prometheus is ready and has scraped the proxy once (before any load,
# so that the load shows as increases). Prometheus is ready in well under a second, but its first scrape waits for
# the discovery manager's first update, about 5 s after the start.
wait_until() { # description, seconds, command...
  local what=$1 deadline=$(( $(now_ms) + $2 * 1000 )); shift 2
  until "$@"; do
    kill -0 "$proxy_pid" 2>/dev/null || fail "the proxy exited while waiting for: $what"
    kill -0 "$prometheus_pid" 2>/dev/null || fail "Prometheus exited while waiting for: $what"
    [ "$(now_ms)" -lt "$deadline" ] || fail "timed out after $2 s waiting for: $what"
    sleep 0.2
  done
}
query() { curl -sf --max-time 5 "$prometheus_url/api/v1/query" --data-urlencode "query=$1"; }
scrape_ok() { curl -sf -o /dev/null --max-time 2 "$admin/metrics"; }
prometheus_ready() { curl -sf -o /dev/null --max-time 2 "$prometheus_url/-/ready"; }
proxy_scraped() { local up; up=$(query 'up{job="loadwise-proxy"} == 1' 2>/dev/null) && grep -q '"value"' <<<"$up"; }
wait_until "the proxy's scrape on $admin/metrics" 60 scrape_ok
wait_until "Prometheus ready on $prometheus_url" 30 prometheus_ready
wait_until "Prometheus's first successful scrape of the proxy" 15 proxy_scraped
echo "check-deploy: proxy and Prometheus up after $(( ($(date +%s%N) - started_at) / 1000000 )) ms"

# 4. Load for 4 s, paced (8 requests every 0.25 s, each batch one curl on one connection), so that the 1 s scrapes see
#    every counter rise rather than appear at its final value: 200s, 404s, retries, 502s, rate_limited drops.
load() { # paths...; prints the status codes, one a line
  local args=() path
  for path in "$@"; do args+=(-o /dev/null "$proxy$path"); done
  timeout 20 curl -s --max-time 5 -w '%{http_code}\n' "${args[@]}" || true
}
codes=""
requests=0
load_until=$(( $(now_ms) + 4000 ))
while [ "$(now_ms)" -lt "$load_until" ]; do
  codes+=$(load / /nope / /headers / / / /)$'\n'
  requests=$(( requests + 8 ))
  sleep 0.25
done
echo "check-deploy: load, $requests requests in 4 s: $(grep . <<<"$codes" | sort | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}')"
load_end=$(date +%s.%N)

# Each event the dashboard shows must have happened; if not, the load above is what failed, not the dashboard.
metrics=$(curl -sf --max-time 5 "$admin/metrics") || fail "scrape of $admin/metrics failed"
need() { grep -q "$1" <<<"$metrics" || fail "the load did not provoke $2 (no '$1' in the proxy's scrape)"; }
need '^loadwise_requests_total{backend="[^"]*",code="404"}' "a 404"
need '^loadwise_requests_total{backend="backend-down",code="502"}' "a 502 from the down backend"
need '^loadwise_retries_total{result="retried"}' "a retry"
need '^loadwise_retries_total{result="budget_exhausted"}' "an exhausted retry budget"
need '^loadwise_requests_dropped_total{reason="rate_limited"}' "a rate_limited drop"
need '^loadwise_backend_health{backend="backend-down",state="unhealthy"} 1$' "an unhealthy backend"

# Two scrapes after the load, so that rates cover it.
scraped_after_load() {
  query 'max(timestamp(up{job="loadwise-proxy"}))' | python3 -c '
import json, sys
result = json.load(sys.stdin)["data"]["result"]
sys.exit(0 if result and float(result[0]["value"][1]) > float(sys.argv[1]) + 1.5 else 1)' "$load_end" 2>/dev/null
}
wait_until "two Prometheus scrapes after the load" 15 scraped_after_load

# 5. Every expression of the dashboard, with Grafana's interval variables set to 1m (the whole run fits in it).
python3 - "$dashboard" "$prometheus_url" <<'PY' || fail "a dashboard expression (above)"
import json, math, re, sys, urllib.error, urllib.parse, urllib.request
path, base = sys.argv[1], sys.argv[2]
def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))
variables = {"__rate_interval": "1m", "__interval": "1m", "__range": "1m"}
def substitute(expr):
    def one(m):
        name = m.group(1) or m.group(2)
        if name not in variables:
            raise KeyError(name)
        return variables[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, expr)
failed = 0
for p in panels(json.load(open(path)).get("panels", [])):
    for t in p.get("targets", []):
        expr = t["expr"]
        label = f"[{p.get('title')} / {t.get('refId')}]"
        try:
            query = substitute(expr)
        except KeyError as e:
            print(f"  FAIL {label} {expr}\n       unknown variable ${e.args[0]}")
            failed += 1
            continue
        url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as e:
            try:
                body = json.load(e)
            except ValueError:
                body = {"status": "error", "error": f"HTTP {e.code}"}
        except Exception as e:
            body = {"status": "error", "error": str(e)}
        if body.get("status") != "success":
            print(f"  FAIL {label} {expr}\n       error: {body.get('error')}")
            failed += 1
            continue
        data = body["data"]
        if data["resultType"] == "matrix":
            print(f"  FAIL {label} {expr}\n       a range vector, which a panel cannot draw")
            failed += 1
            continue
        result = data["result"] if data["resultType"] == "vector" else [{"value": data["result"]}]
        values = [float(r["value"][1]) for r in result if "value" in r]
        numbers = [v for v in values if not math.isnan(v)]
        status = "ok  " if numbers else "FAIL"
        top = f"max {max(numbers):.3g}" if numbers else "all NaN" if result else "no series"
        print(f"  {status} {len(result):2d} series, {top:>12}  {label} {expr}")
        if not numbers:
            failed += 1
if failed:
    sys.exit(f"check-deploy: {failed} expression(s) returned an error, no series or only NaN")
PY

elapsed=$(( ($(date +%s%N) - started_at) / 1000000 ))
echo "check-deploy: OK (config, dashboard datasources, every dashboard expression non-empty against live data; ${elapsed} ms)"
