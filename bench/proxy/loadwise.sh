# Sourced by bench/proxy/run.sh: builds loadwise-proxy (native AOT and JIT) and writes its benchmark config.

# Publishes the native binary (LoadwiseAotTargetFramework, net9.0 on the reference machine) and builds the JIT one.
loadwise_build() { # workdir
  local tfm
  tfm=$(dotnet msbuild src/Loadwise.AotProxy/Loadwise.AotProxy.csproj -getProperty:LoadwiseAotTargetFramework)
  if [ ! -x artifacts/aot/loadwise-proxy ] || [ "${REBUILD:-0}" = 1 ]; then
    log "publishing the native binary ($tfm)"
    dotnet publish src/Loadwise.AotProxy/Loadwise.AotProxy.csproj -c Release -r linux-x64 -f "$tfm" -o artifacts/aot --nologo -v quiet >&2
  fi
  log "building the JIT proxy (net10.0)"
  dotnet publish src/Loadwise.AotProxy/Loadwise.AotProxy.csproj -c Release -f net10.0 -p:PublishAot=false -o artifacts/jit --nologo -v quiet >&2
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
