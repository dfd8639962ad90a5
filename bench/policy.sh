#!/usr/bin/env bash
# Every policy on, over TLS 1.3 keep-alive, in one run on this machine:
#   nginx      limit_req (per IP, far above the load), 7 add_header, a deny list of 100,000 entries
#   portcullis the default header profile, a 100,000-entry blocklist, a per-IP rate limit far
#              above the load (local counters), then the same with counters shared through Redis
#              (batched), and plain proxying (no policy) as the baseline for the overhead.
# One worker each on CPU 0, wrk on CPU 1, median of ROUNDS runs.
#
#   bench/policy.sh                   (make bench)
set -euo pipefail
cd "$(dirname "$0")/.."

ENTRIES=${ENTRIES:-100000}
ORIGIN_PORT=18200 NGINX_PORT=18281 NGINX_TLS_PORT=18643 PORTCULLIS_PORT=18282 PORTCULLIS_TLS_PORT=18644 ADMIN_PORT=18283
POLICY_PORT=18284 POLICY_TLS_PORT=18645 POLICY_ADMIN_PORT=18285
REDIS_POLICY_PORT=18286 REDIS_POLICY_TLS_PORT=18646 REDIS_POLICY_ADMIN_PORT=18287 REDIS_PORT=18379

# shellcheck source=bench/common.sh
source bench/common.sh

# The same 100,000 addresses and blocks for both.
bench/blocklist_entries.py "$ENTRIES" "$work/blocklist.txt" "$work/policy/server-deny.conf"
cat > "$work/policy/http-limit.conf" <<'NGINX'
limit_req_zone $binary_remote_addr zone=perip:10m rate=1000000r/s;
NGINX
{ echo "limit_req zone=perip burst=1000000 nodelay;"; cat bench/nginx-security-headers.conf; } > "$work/policy/server-headers.conf"

start_proxies
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 & pids+=($!)
start_policy_gateway() { # port, tls port, admin port, redis url
    BENCH_PORTCULLIS_PORT=$1 BENCH_PORTCULLIS_TLS_PORT=$2 BENCH_ADMIN_PORT=$3 BENCH_REDIS_URL=$4 BENCH_ORIGIN_PORT=$ORIGIN_PORT \
        BENCH_CERT="$work/cert.pem" BENCH_KEY="$work/key.pem" BENCH_BLOCKLIST="$work/blocklist.txt" \
        PORTCULLIS_ADMIN_TOKEN=$(openssl rand -hex 32) \
        .build/release/portcullis run --config bench/portcullis-policy.toml 2>>"$work/portcullis-policy.log" & pids+=($!)
}
wait_for_port "$REDIS_PORT"
start_policy_gateway "$POLICY_PORT" "$POLICY_TLS_PORT" "$POLICY_ADMIN_PORT" ""
start_policy_gateway "$REDIS_POLICY_PORT" "$REDIS_POLICY_TLS_PORT" "$REDIS_POLICY_ADMIN_PORT" "redis://127.0.0.1:$REDIS_PORT"
for port in "$POLICY_TLS_PORT" "$REDIS_POLICY_TLS_PORT"; do wait_for_port "$port"; done

# Check that the policies are really on before measuring.
curl -sk -o /dev/null -D - "https://localhost:$NGINX_TLS_PORT/small" | grep -qi "^x-frame-options: DENY" || { echo "nginx policy missing" >&2; exit 1; }
for port in "$POLICY_TLS_PORT" "$REDIS_POLICY_TLS_PORT"; do
    curl -sk -o /dev/null -D - "https://localhost:$port/small" | grep -qi "^x-ratelimit-limit: 100000000" || { echo "portcullis policy missing on $port" >&2; exit 1; }
done

declare -A urls=(
    [nginx-policy]="https://localhost:$NGINX_TLS_PORT/small"
    [portcullis-plain]="https://localhost:$PORTCULLIS_TLS_PORT/small"
    [portcullis-policy]="https://localhost:$POLICY_TLS_PORT/small"
    [portcullis-redis]="https://localhost:$REDIS_POLICY_TLS_PORT/small"
)
order=(nginx-policy portcullis-plain portcullis-policy portcullis-redis)
for name in "${order[@]}"; do taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d2s "${urls[$name]}" >/dev/null; done

declare -A results
for _ in $(seq 1 "$ROUNDS"); do
    for name in "${order[@]}"; do results[$name]+="$(measure "${urls[$name]}")"$'\n'; done
done

printf "\nTLS 1.3 keep-alive, 100 B body, every policy on; 1 worker on CPU 0, wrk -c%s on CPU 1, %ss x %s rounds (median)\n" \
    "$CONNECTIONS" "$DURATION" "$ROUNDS"
printf "blocklist / deny list: %s entries\n\n" "$ENTRIES"
printf "%-20s %12s %10s %10s\n" proxy "req/s" "p50 ms" "p99 ms"
declare -A rps
for name in "${order[@]}"; do
    rps[$name]=$(awk 'NF {print $1}' <<<"${results[$name]}" | median)
    printf "%-20s %12s %10s %10s\n" "$name" "${rps[$name]}" \
        "$(awk 'NF {print $2}' <<<"${results[$name]}" | median)" "$(awk 'NF {print $3}' <<<"${results[$name]}" | median)"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
overhead() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", (1 - a / b) * 100 }'; }
printf "\nportcullis-policy / nginx-policy:       %s\n" "$(ratio "${rps[portcullis-policy]}" "${rps[nginx-policy]}")"
printf "policy overhead vs plain proxying:       %s\n" "$(overhead "${rps[portcullis-policy]}" "${rps[portcullis-plain]}")"
printf "policy + Redis (batched) overhead:       %s\n" "$(overhead "${rps[portcullis-redis]}" "${rps[portcullis-plain]}")"
