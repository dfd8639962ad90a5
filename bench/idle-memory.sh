#!/usr/bin/env bash
# Memory per idle TLS keep-alive connection, Portcullis and nginx in the same run: hold
# CONNECTIONS (2,000) connections that each completed a handshake and one request, then read
# each proxy's resident memory (the worker process for nginx) and divide the growth.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-2000}
ORIGIN_PORT=18100 NGINX_PORT=18181 NGINX_TLS_PORT=18543 PORTCULLIS_PORT=18182 PORTCULLIS_TLS_PORT=18544 ADMIN_PORT=18183

work=$(mktemp -d /tmp/portcullis-idle.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/www"
head -c 100 /dev/zero | tr '\0' 'a' > "$work/www/small"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
for conf in origin proxy; do
    sed -e "s#@WORK@#$work#g" -e "s#@ORIGIN_PORT@#$ORIGIN_PORT#g" -e "s#@NGINX_PORT@#$NGINX_PORT#g" \
        -e "s#@NGINX_TLS_PORT@#$NGINX_TLS_PORT#g" -e "s#worker_connections 4096#worker_connections 8192#" \
        "bench/nginx-$conf.conf" > "$work/$conf.conf"
done
nginx -p "$work" -c "$work/origin.conf" & pids+=($!)
nginx -p "$work" -c "$work/proxy.conf" & pids+=($!)
BENCH_PORTCULLIS_PORT=$PORTCULLIS_PORT BENCH_ADMIN_PORT=$ADMIN_PORT BENCH_ORIGIN_PORT=$ORIGIN_PORT \
    BENCH_PORTCULLIS_TLS_PORT=$PORTCULLIS_TLS_PORT BENCH_CERT="$work/cert.pem" BENCH_KEY="$work/key.pem" \
    PORTCULLIS_ADMIN_TOKEN=$(openssl rand -hex 32) \
    .build/release/portcullis run --config bench/portcullis.toml & portcullis_pid=$!
pids+=("$portcullis_pid")
sleep 1

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
nginx_worker() { pgrep -f "nginx: worker" -P "$(cat "$work/proxy.pid")"; }

measure() {
    local name=$1 port=$2 pid=$3
    local before after
    before=$(rss_kib "$pid")
    coproc HOLD { python3 bench/hold_connections.py "$port" "$CONNECTIONS"; }
    read -r _ <&"${HOLD[0]}"
    sleep 0.5
    after=$(rss_kib "$pid")
    printf "%-11s %8s KiB before %8s KiB with %s idle TLS connections: %6.1f KiB per connection\n" \
        "$name" "$before" "$after" "$CONNECTIONS" "$(awk -v a="$after" -v b="$before" -v n="$CONNECTIONS" 'BEGIN { print (a - b) / n }')"
    eval "exec ${HOLD[1]}>&-"
    wait "$HOLD_PID" 2>/dev/null || true
}

measure nginx "$NGINX_TLS_PORT" "$(nginx_worker)"
measure portcullis "$PORTCULLIS_TLS_PORT" "$portcullis_pid"
