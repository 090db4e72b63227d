#!/usr/bin/env bash
# Installs the servers the tests start on loopback ports: redis-server (Debian package).
# As root it installs what is missing; otherwise it says how, and those tests skip.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing redis-server for the Redis tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
else
  echo "redis-server is missing: the Redis tests will skip (install it with: sudo apt-get install redis-server)"
fi
