#!/usr/bin/env bash
# Installs the Debian packages Portcullis needs that are missing, as root or with sudo.
#   scripts/install-deps.sh          build and test: OpenSSL, hiredis, zlib, libdeflate, redis-server, openssl
#   scripts/install-deps.sh --bench  also nginx, wrk, python3, h2load (nghttp2-client), valgrind and strace for `make bench`
#   scripts/install-deps.sh --package  also systemd (systemd-analyze), curl and python3 for `make check-deb`
set -euo pipefail

packages=(pkg-config libssl-dev libhiredis-dev zlib1g-dev libdeflate-dev redis-server openssl)
case "${1:-}" in
    --bench) packages+=(nginx-light wrk python3 nghttp2-client valgrind strace) ;;
    --package) packages+=(systemd curl python3) ;;
esac

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing: ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null; then
    as_root=(sudo)
else
    echo "error: need root or sudo to install: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
