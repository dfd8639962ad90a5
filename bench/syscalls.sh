#!/usr/bin/env bash
# System calls per proxied request, Portcullis and nginx in the same run: where the kernel's
# share of each proxy's CPU time comes from. Both have one worker (nginx with master_process
# off); the origin is the same nginx serving static files. After a warm-up, strace -c counts
# every call the proxy makes while h2load sends exactly REQUESTS keep-alive GETs of /small over
# 10 connections, plain and then TLS 1.3. strace slows the proxy down: the counts are exact,
# its timings are not used.
#
#   bench/syscalls.sh                 (make bench)
#   REQUESTS=50000 bench/syscalls.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ORIGIN_PORT=18200 NGINX_PORT=18281 PORTCULLIS_PORT=18282 ADMIN_PORT=18283 NGINX_TLS_PORT=18643 PORTCULLIS_TLS_PORT=18644
REQUESTS=${REQUESTS:-20000}

# shellcheck source=bench/common.sh
source bench/common.sh

start_nginx_origin one-process
nginx -p "$work" -c "$work/proxy.conf" & nginx_pid=$!
pids+=($nginx_pid)
BENCH_PORTCULLIS_PORT=$PORTCULLIS_PORT BENCH_ADMIN_PORT=$ADMIN_PORT BENCH_ORIGIN_PORT=$ORIGIN_PORT \
    BENCH_PORTCULLIS_TLS_PORT=$PORTCULLIS_TLS_PORT BENCH_CERT="$work/cert.pem" BENCH_KEY="$work/key.pem" \
    PORTCULLIS_ADMIN_TOKEN=$(openssl rand -hex 32) \
    .build/release/portcullis run --config bench/portcullis.toml 2>"$work/portcullis.log" & portcullis_pid=$!
pids+=($portcullis_pid)
for port in "$ORIGIN_PORT" "$NGINX_PORT" "$NGINX_TLS_PORT" "$PORTCULLIS_PORT" "$PORTCULLIS_TLS_PORT"; do wait_for_port "$port"; done

# Counts proxy $1's (pid $2) calls while REQUESTS requests go to $3; leaves "call count" lines
# in $work/$1.calls.
count() {
    local name=$1 pid=$2 url=$3
    h2load --h1 -n 2000 -c 10 "$url" > /dev/null 2>&1
    strace -c -f -p "$pid" -o "$work/$name.strace" 2>/dev/null &
    local tracer=$!
    sleep 1
    h2load --h1 -n "$REQUESTS" -c 10 "$url" > "$work/$name.h2load" 2>&1
    kill -INT "$tracer"
    wait "$tracer" 2>/dev/null || true
    if ! grep -q "status codes: $REQUESTS 2xx" "$work/$name.h2load"; then
        echo "$name: not every request succeeded:" >&2
        grep -E "requests:|status codes:" "$work/$name.h2load" >&2
        exit 1
    fi
    # strace -c: "% time seconds usecs/call calls [errors] syscall"; the name is the last field.
    awk '$1 ~ /^[0-9.]+$/ && $NF != "total" { print $NF, $4 }' "$work/$name.strace" > "$work/$name.calls"
}

for transport in plain tls; do
    if [[ $transport == tls ]]; then
        count nginx "$nginx_pid" "https://127.0.0.1:$NGINX_TLS_PORT/small"
        count portcullis "$portcullis_pid" "https://127.0.0.1:$PORTCULLIS_TLS_PORT/small"
    else
        count nginx "$nginx_pid" "http://127.0.0.1:$NGINX_PORT/small"
        count portcullis "$portcullis_pid" "http://127.0.0.1:$PORTCULLIS_PORT/small"
    fi
    printf "\nsystem calls per proxied request (strace -c, %s %s keep-alive GET /small, h2load -c 10, 1 worker)\n\n" "$REQUESTS" "$transport"
    printf "%-14s %8s %11s\n" call nginx portcullis
    awk -v n="$REQUESTS" '
        FNR == 1 { file++ }
        { calls[$1] = 1; count[file, $1] = $2 }
        END {
            for (call in calls) {
                a = count[1, call] / n; b = count[2, call] / n
                if (a >= 0.005 || b >= 0.005) printf "%-14s %8.2f %11.2f\n", call, a, b
                total1 += a; total2 += b
            }
            printf "%-14s %8.2f %11.2f\n", "all", total1, total2
        }' "$work/nginx.calls" "$work/portcullis.calls" | sort -k1,1 | awk '$1 != "all"; $1 == "all" { last = $0 } END { print last }'
done
