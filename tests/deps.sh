#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian 12 machine; fast when all is there.
set -eu
cd "$(dirname "$0")"
APT_PKGS="build-essential pkg-config libcurl4-openssl-dev libssl-dev libzstd-dev liblz4-dev liblzma-dev
  libbrotli-dev liblzo2-dev libpq-dev libjson-c-dev libyaml-dev libxml2-dev check libsubunit-dev
  postgresql-15 postgresql-client-15 awscli s3cmd pgbackrest zstd lz4 lzop
  python3 curl ca-certificates time"
missing=""
for p in $APT_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node.js may come with the machine image rather than from Debian (Debian's npm would then
# conflict): only ask apt for it when the commands are missing
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
  echo "deps: installing:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# npm packages for test servers and independent client libraries, pinned by the lock file
if [ ! -f node_modules/.deps-stamp ] || [ package-lock.json -nt node_modules/.deps-stamp ]; then
  echo "deps: npm ci (tests/)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  touch node_modules/.deps-stamp
fi
echo "deps: ok"
