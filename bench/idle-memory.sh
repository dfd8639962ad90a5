#!/usr/bin/env bash
# Memory of an idle proxy and per idle keep-alive connection, Portcullis and nginx in the same
# run. Each proxy's resident memory (the worker process for nginx) as started, then after one
# request over each transport (the code serving runs is mapped in: the idle figure); then hold
# CONNECTIONS (2,000) TLS connections that each completed a handshake and one request and
# divide the growth, and the same over plain HTTP first, which tells the proxy's own share from
# OpenSSL's; and once more 11 s after they are all closed.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-2000}
ORIGIN_PORT=18100 NGINX_PORT=18181 NGINX_TLS_PORT=18543 PORTCULLIS_PORT=18182 PORTCULLIS_TLS_PORT=18544 ADMIN_PORT=18183

NGINX_CONNECTIONS=8192
# shellcheck source=bench/common.sh
source bench/common.sh
start_proxies
portcullis_pid=${pids[-1]}

nginx_worker() { pgrep -f "nginx: worker" -P "$(cat "$work/proxy.pid")"; }

measure() {
    local name=$1 port=$2 pid=$3 transport=$4
    local before after
    before=$(rss_kib "$pid")
    coproc HOLD { python3 bench/hold_connections.py "$port" "$CONNECTIONS" "$transport"; }
    read -r _ <&"${HOLD[0]}"
    sleep 0.5
    after=$(rss_kib "$pid")
    printf "%-11s %8s KiB before %8s KiB with %s idle %-5s connections: %6.1f KiB per connection\n" \
        "$name" "$before" "$after" "$CONNECTIONS" "$transport" "$(awk -v a="$after" -v b="$before" -v n="$CONNECTIONS" 'BEGIN { print (a - b) / n }')"
    eval "exec ${HOLD[1]}>&-"
    wait "$HOLD_PID" 2>/dev/null || true
}

idle() {
    printf "%-11s %8s KiB %s\n" nginx "$(rss_kib "$(nginx_worker)")" "$1"
    printf "%-11s %8s KiB %s\n" portcullis "$(rss_kib "$portcullis_pid")" "$1"
}
request_each() {
    local port
    for port in "$@"; do echo | python3 bench/hold_connections.py "${port%:*}" 1 "${port#*:}" >/dev/null; done
}

idle "idle, as started"
request_each "$NGINX_PORT:plain" "$NGINX_TLS_PORT:tls" "$PORTCULLIS_PORT:plain" "$PORTCULLIS_TLS_PORT:tls"
sleep 0.5
idle "idle after one request over each transport"

# Plain first: memory freed when the TLS connections close stays in the process and would be
# reused by the plain ones.
measure nginx "$NGINX_PORT" "$(nginx_worker)" plain
measure portcullis "$PORTCULLIS_PORT" "$portcullis_pid" plain
measure nginx "$NGINX_TLS_PORT" "$(nginx_worker)" tls
measure portcullis "$PORTCULLIS_TLS_PORT" "$portcullis_pid" tls
# Portcullis returns freed heap memory when its control thread looks, every 10 s.
sleep 11
idle "idle 11 s after the $CONNECTIONS connections of each transport closed"
