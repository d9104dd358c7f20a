#!/usr/bin/env bash
# Installs the Debian packages CI and the scripts use, only those missing:
#   prometheus (promtool for the metrics check), curl, clang + zlib1g-dev (native AOT link), chromium +
#   chromium-driver (the status page's browser test),
#   and with --bench also nginx, haproxy and wrk (bench/proxy/run.sh).
set -euo pipefail
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v clang >/dev/null 2>&1 || need+=(clang)
[ -e /usr/include/zlib.h ] || need+=(zlib1g-dev)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if [ "${1:-}" = "--bench" ]; then
  command -v nginx >/dev/null 2>&1 || need+=(nginx)
  command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
  command -v wrk >/dev/null 2>&1 || need+=(wrk)
fi
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "run as root, or: apt-get install -y ${need[*]}" >&2; exit 1; fi
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "tools ready"
