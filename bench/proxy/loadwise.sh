# Sourced by bench/proxy/run.sh and compare.sh: builds loadwise-proxy (native AOT and JIT), writes its benchmark
# config, and the two scripts' shared arithmetic on wrk's figures.

# Publishes the native binary and builds the JIT one.
loadwise_build() { # workdir
  if [ ! -x artifacts/aot/loadwise-proxy ] || [ "${REBUILD:-0}" = 1 ]; then
    log "publishing the native binary"
    dotnet publish src/Loadwise.AotProxy/Loadwise.AotProxy.csproj -c Release -r linux-x64 -o artifacts/aot --nologo -v quiet >&2
  fi
  log "building the JIT proxy"
  dotnet publish src/Loadwise.AotProxy/Loadwise.AotProxy.csproj -c Release -p:PublishAot=false -o artifacts/jit --nologo -v quiet >&2
  LOADWISE_AOT=$root/artifacts/aot/loadwise-proxy
  LOADWISE_JIT=$root/artifacts/jit/loadwise-proxy.dll
}

# One backend, round robin, metrics on, access logging off (the default): the same job nginx and HAProxy do. Active
# health checks stay on (probing "/", which the nginx backend serves), so the row measures the proxy as shipped.
loadwise_config() { # file port backend_port
  cat > "$1" <<JSON
{
  "Listen": [ "http://127.0.0.1:$2" ],
  "Backends": [ { "Id": "nginx", "Url": "http://127.0.0.1:$3" } ],
  "Strategy": { "Name": "RoundRobin" },
  "HealthChecks": { "Path": "/" },
  "Log": { "Level": "Warning" }
}
JSON
}

# wrk's latencies ("890.00us", "2.71ms", "1.02s"), one per line on stdin, in milliseconds.
wrk_ms() { awk '{ n = $1 + 0; if ($1 ~ /us$/) n /= 1000; else if ($1 ~ /[0-9]s$/) n *= 1000; printf "%.3f\n", n }'; }

# The median of the numbers on stdin, one per line (the mean of the middle two for an even count).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
