#!/usr/bin/env bash
# Installs the system packages the test suite drives: Chromium for the browser tests, and
# PostgreSQL 15 + PostGIS 3 for the suite's PostgreSQL run (the session starts its own cluster
# in a temporary directory; the packages start no server of their own); and Node.js + npm,
# which build the pages' assets (scripts/build-assets.sh). `system-deps.sh node`: only those.
# Idempotent; needs root (CI runs as root) only when something is missing.
set -euo pipefail

need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ "${1:-all}" != node ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  test -x /usr/lib/postgresql/15/bin/initdb || need+=(postgresql-15)
  test -f /usr/share/postgresql/15/extension/postgis.control || need+=(postgresql-15-postgis-3)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing ${need[*]}; run as root: apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
