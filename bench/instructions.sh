#!/usr/bin/env bash
# CPU per request, counted rather than timed: user-space instructions per proxied request of
# Portcullis and nginx, each under callgrind in the same run, and each proxy's top self-cost
# functions. Both have one worker (nginx with master_process off, one process); the origin is
# the same nginx serving static files, not counted. After a warm-up the counters are zeroed,
# h2load sends exactly REQUESTS plain keep-alive GETs of /small over 10 connections, and the
# counters are dumped: instructions / REQUESTS is the figure, and calls into the C allocator
# (malloc, calloc, realloc) / REQUESTS the heap allocations per request.
#
# valgrind 3.19 cannot read the DWARF 5 of a Swift binary, so Portcullis runs from a copy
# stripped with `strip --strip-debug` (symbols kept).
#
#   bench/instructions.sh                 (make bench)
#   REQUESTS=20000 TOP=15 bench/instructions.sh
#   BINARY=/path/to/portcullis bench/instructions.sh   (another build, e.g. the one before a change)
#   TRANSPORT=tls bench/instructions.sh   (TLS 1.3 keep-alive requests, on each proxy's TLS listener)
#   KEEP=/tmp/dumps bench/instructions.sh (keeps the callgrind dumps, e.g. for
#                                          callgrind_annotate --tree=caller)
set -euo pipefail
cd "$(dirname "$0")/.."

ORIGIN_PORT=${ORIGIN_PORT:-18100}
NGINX_PORT=${NGINX_PORT:-18181}
PORTCULLIS_PORT=${PORTCULLIS_PORT:-18182}
ADMIN_PORT=${ADMIN_PORT:-18183}
NGINX_TLS_PORT=${NGINX_TLS_PORT:-18543}
PORTCULLIS_TLS_PORT=${PORTCULLIS_TLS_PORT:-18544}
REQUESTS=${REQUESTS:-20000}
TOP=${TOP:-12}
TRANSPORT=${TRANSPORT:-plain}
case $TRANSPORT in
    plain) scheme=http ;;
    tls) scheme=https ;;
    *) echo "TRANSPORT is plain or tls, not $TRANSPORT" >&2; exit 2 ;;
esac
# The port a proxy is counted on: its plain or its TLS listener.
port_for() { if [[ $TRANSPORT == tls ]]; then echo "$2"; else echo "$1"; fi; }

# shellcheck source=bench/common.sh
source bench/common.sh

cp "${BINARY:-.build/release/portcullis}" "$work/portcullis"
strip --strip-debug "$work/portcullis"
start_nginx_origin one-process
wait_for_port "$ORIGIN_PORT"

# Runs $2... under callgrind as proxy $1 listening on port $PORT; prints "instructions/request"
# and keeps the annotated dump in $work/$1.annotated.
count() {
    local name=$1 port=$2
    shift 2
    valgrind --tool=callgrind --callgrind-out-file="$work/$name.out" "$@" > "$work/$name.log" 2>&1 &
    local pid=$!
    pids+=($pid)
    for _ in $(seq 1 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    h2load --h1 -n 2000 -c 10 "$scheme://127.0.0.1:$port/small" > "$work/$name.warmup" 2>&1
    callgrind_control --zero "$pid" > /dev/null 2>&1
    h2load --h1 -n "$REQUESTS" -c 10 "$scheme://127.0.0.1:$port/small" > "$work/$name.h2load" 2>&1
    if ! grep -q "succeeded, 0 failed, 0 errored" <<<"$(grep 'requests:' "$work/$name.h2load" | sed 's/ \+/ /g')" \
        || ! grep -q "status codes: $REQUESTS 2xx" "$work/$name.h2load"; then
        echo "$name: not every request succeeded:" >&2
        grep -E "requests:|status codes:" "$work/$name.h2load" >&2
        exit 1
    fi
    callgrind_control --dump "$pid" > /dev/null 2>&1
    local dump
    for _ in $(seq 1 100); do
        dump=$(ls -t "$work/$name.out".* 2>/dev/null | head -1 || true)
        [[ -n "$dump" ]] && grep -q '^totals:' "$dump" && break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    [[ -n "${KEEP:-}" ]] && mkdir -p "$KEEP" && cp "$dump" "$KEEP/$name.callgrind"
    callgrind_annotate --threshold=100 "$dump" 2>/dev/null | { swift demangle --simplified 2>/dev/null || cat; } > "$work/$name.annotated"
    # Heap allocations: calls into libc's malloc, calloc and realloc from outside the allocator
    # (nginx's pools and Swift's swift_slowAlloc both end there).
    callgrind_annotate --tree=caller --threshold=100 "$dump" 2>/dev/null | awk -v n="$REQUESTS" '
        /^ *[0-9,]+ .* < / { callers[++count] = $0; next }
        /^ *[0-9,]+ .* \* / {
            if ($0 ~ /malloc\/malloc\.c:(malloc|calloc|realloc) /)
                for (i = 1; i <= count; i++)
                    if (callers[i] !~ /malloc\/malloc\.c:/ && match(callers[i], /\(([0-9,]+)x\)/)) {
                        calls = substr(callers[i], RSTART + 1, RLENGTH - 3); gsub(",", "", calls); total += calls
                    }
            count = 0; next
        }
        { count = 0 }
        END { printf "%.3f", total / n }' > "$work/$name.allocations"
    awk -v n="$REQUESTS" '/^totals:/ { printf "%.0f", $2 / n }' "$dump"
}

nginx_per_request=$(count nginx "$(port_for "$NGINX_PORT" "$NGINX_TLS_PORT")" nginx -p "$work" -c "$work/proxy.conf")
# Exported, not passed through env(1): valgrind would follow env and lose the gateway at its exec.
export BENCH_PORTCULLIS_PORT=$PORTCULLIS_PORT BENCH_ADMIN_PORT=$ADMIN_PORT BENCH_ORIGIN_PORT=$ORIGIN_PORT \
    BENCH_PORTCULLIS_TLS_PORT=$PORTCULLIS_TLS_PORT BENCH_CERT=$work/cert.pem BENCH_KEY=$work/key.pem
PORTCULLIS_ADMIN_TOKEN=$(openssl rand -hex 32)
export PORTCULLIS_ADMIN_TOKEN
portcullis_per_request=$(count portcullis "$(port_for "$PORTCULLIS_PORT" "$PORTCULLIS_TLS_PORT")" "$work/portcullis" run --config bench/portcullis.toml)
# The same with the policies of bench/policy.sh on: the default header profile, a 100,000-entry
# blocklist, a per-IP rate limit far above the load (local counters).
bench/blocklist_entries.py 100000 "$work/blocklist.txt"
export BENCH_BLOCKLIST=$work/blocklist.txt BENCH_PORTCULLIS_PORT=$((PORTCULLIS_PORT + 10)) BENCH_ADMIN_PORT=$((ADMIN_PORT + 10)) \
    BENCH_PORTCULLIS_TLS_PORT=$((PORTCULLIS_TLS_PORT + 10))
policy_per_request=$(count policy "$(port_for "$BENCH_PORTCULLIS_PORT" "$BENCH_PORTCULLIS_TLS_PORT")" "$work/portcullis" run --config bench/portcullis-policy.toml)

printf "\nuser-space instructions per proxied request (callgrind, %s %s keep-alive GET /small, h2load -c 10, 1 worker)\n\n" "$REQUESTS" "$TRANSPORT"
printf "%-19s %14s %18s\n" proxy "instructions" "heap allocations" \
    nginx "$nginx_per_request" "$(cat "$work/nginx.allocations")" portcullis "$portcullis_per_request" "$(cat "$work/portcullis.allocations")" \
    "portcullis, policy" "$policy_per_request" "$(cat "$work/policy.allocations")"
printf "%-19s %14s\n" "ratio to nginx" "$(awk -v a="$portcullis_per_request" -v b="$nginx_per_request" 'BEGIN { printf "%.2f", a / b }')"
printf "%-19s %14s\n" "policy / plain" "$(awk -v a="$policy_per_request" -v b="$portcullis_per_request" 'BEGIN { printf "%.2f", a / b }')"
for name in portcullis nginx; do
    printf "\n%s: top %s functions by self cost (instructions per request, share)\n" "$name" "$TOP"
    awk -v n="$REQUESTS" -v top="$TOP" '
        /^Ir/ || /^-+$/ { next }
        /PROGRAM TOTALS/ { total = $1; gsub(",", "", total); next }
        $2 ~ /\(/ || $2 ~ /^[^ ]+:/ {
            cost = $1; gsub(",", "", cost)
            # Frames that were on the stack when the counters were zeroed show the whole total.
            if (cost + 0 == 0 || cost + 0 >= total * 0.9 || shown >= top) next
            name = $0; sub(/^ *[0-9,]+ +(\([ 0-9.%]+\) +)?/, "", name); sub(/ \[.*\]$/, "", name)
            if (length(name) > 90) name = substr(name, 1, 87) "..."
            printf "  %8.0f  %5.1f%%  %s\n", cost / n, 100 * cost / total, name
            shown++
        }' "$work/$name.annotated"
done
