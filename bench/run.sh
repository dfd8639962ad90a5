#!/usr/bin/env bash
# Compares Portcullis with nginx as reverse proxies, in the same run, on this machine.
#
# Both proxies get one worker pinned to CPU 0 and keep-alive connections to the same origin
# (nginx serving static files, pinned to CPU 1). wrk, also on CPU 1, drives keep-alive GETs of
# a ~100-byte and a 10 KB body over plain HTTP, the small body over TLS 1.3 keep-alive, and a
# new TLS connection per request (handshakes/s). Same ECDSA P-256 certificate, protocols,
# ciphers and groups on both. Each pairing runs ROUNDS times, alternating, and the median round
# is reported. Prints req/s, p50, p99, requests per second of each proxy's own CPU time (from
# /proc/PID/stat over the run: busy polling is charged for what it burns), the kernel's share
# of that CPU time, and the ratios.
# BENCH_BUSY_POLL sets the gateway's busy_poll (default 0us, off) to compare it on and off.
#
#   bench/run.sh                      (make bench)
#   DURATION=10 CONNECTIONS=50 ROUNDS=3 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ORIGIN_PORT=${ORIGIN_PORT:-18000}
NGINX_PORT=${NGINX_PORT:-18081}
PORTCULLIS_PORT=${PORTCULLIS_PORT:-18082}
ADMIN_PORT=${ADMIN_PORT:-18083}
NGINX_TLS_PORT=${NGINX_TLS_PORT:-18443}
PORTCULLIS_TLS_PORT=${PORTCULLIS_TLS_PORT:-18444}

# shellcheck source=bench/common.sh
source bench/common.sh
start_proxies
# The processes whose CPU time a run is charged to: nginx's worker, the whole gateway.
portcullis_pid=${pids[-1]}
nginx_worker=$(pgrep -f "nginx: worker" -P "$(cat "$work/proxy.pid")")

# Warm both paths (connections to the origin, caches).
taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$NGINX_PORT/small" >/dev/null
taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$PORTCULLIS_PORT/small" >/dev/null

printf "\n1 worker each on CPU 0, wrk -c%s on CPU 1, %ss x %s rounds (median); Portcullis busy_poll %s\n\n" \
    "$CONNECTIONS" "$DURATION" "$ROUNDS" "${BENCH_BUSY_POLL:-0us}"
printf "%-18s %-11s %12s %10s %10s %14s %9s\n" case proxy "req/s" "p50 ms" "p99 ms" "req/CPU-second" "kernel %"
# case name, nginx URL, portcullis URL, extra request header (empty for none)
cases=(
    "http-100B|http://127.0.0.1:$NGINX_PORT/small|http://127.0.0.1:$PORTCULLIS_PORT/small|"
    "http-10KB|http://127.0.0.1:$NGINX_PORT/10k|http://127.0.0.1:$PORTCULLIS_PORT/10k|"
    "tls13-keepalive|https://localhost:$NGINX_TLS_PORT/small|https://localhost:$PORTCULLIS_TLS_PORT/small|"
    "tls13-handshakes|https://localhost:$NGINX_TLS_PORT/small|https://localhost:$PORTCULLIS_TLS_PORT/small|Connection: close"
)
for entry in "${cases[@]}"; do
    IFS='|' read -r path nginx_url portcullis_url header <<<"$entry"
    extra=()
    [[ -n "$header" ]] && extra=(-H "$header")
    nginx_runs=()
    portcullis_runs=()
    for _ in $(seq 1 "$ROUNDS"); do
        nginx_runs+=("$(MEASURE_PID=$nginx_worker measure "$nginx_url" "${extra[@]}")")
        portcullis_runs+=("$(MEASURE_PID=$portcullis_pid measure "$portcullis_url" "${extra[@]}")")
    done
    for name in nginx portcullis; do
        declare -n runs="${name}_runs"
        rps=$(printf '%s\n' "${runs[@]}" | awk '{print $1}' | median)
        p50=$(printf '%s\n' "${runs[@]}" | awk '{print $2}' | median)
        p99=$(printf '%s\n' "${runs[@]}" | awk '{print $3}' | median)
        per_cpu=$(printf '%s\n' "${runs[@]}" | awk '{print $4}' | median)
        kernel=$(printf '%s\n' "${runs[@]}" | awk '{print $5}' | median)
        printf "%-18s %-11s %12s %10s %10s %14s %9s\n" "$path" "$name" "$rps" "$p50" "$p99" "$per_cpu" "$kernel"
        eval "${name}_rps=$rps ${name}_p99=$p99 ${name}_per_cpu=$per_cpu"
    done
    printf "%-18s %-11s %12s %21s %14s\n" "$path" "ratio" \
        "$(awk -v a="$portcullis_rps" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }')" \
        "p99 $(awk -v a="$portcullis_p99" -v b="$nginx_p99" 'BEGIN { printf "%.2f", a / b }')" \
        "$(awk -v a="$portcullis_per_cpu" -v b="$nginx_per_cpu" 'BEGIN { printf "%.2f", a / b }')"
done
