#!/usr/bin/env bash
# gzip on the way out, in one run on this machine: a 10 KB JSON response compressed at level 1
# and level 6 by nginx (gzip_comp_level) and by Portcullis ([gzip] level), plain HTTP
# keep-alive, one worker each on CPU 0, wrk on CPU 1, median of ROUNDS runs.
#
#   bench/gzip.sh                     (make bench)
set -euo pipefail
cd "$(dirname "$0")/.."
ORIGIN_PORT=18300 NGINX_PORT=18381 NGINX_TLS_PORT=18743 PORTCULLIS_PORT=18382 PORTCULLIS_TLS_PORT=18744 ADMIN_PORT=18383
NGINX_GZIP1_PORT=18391 NGINX_GZIP6_PORT=18396 GZIP1_PORT=18392 GZIP6_PORT=18397

# shellcheck source=bench/common.sh
source bench/common.sh
python3 - "$work/www/data.json" <<'PY'
import json, sys
records = [{"id": i, "name": f"user-{i * 7919 % 10007}", "score": i * 31 % 997, "active": i % 3 == 0} for i in range(400)]
text = json.dumps(records)[:10240]
open(sys.argv[1], "w").write(text)
PY
start_proxies
sed -e "s#@WORK@#$work#g" -e "s#@ORIGIN_PORT@#$ORIGIN_PORT#g" -e "s#@NGINX_GZIP1_PORT@#$NGINX_GZIP1_PORT#g" \
    -e "s#@NGINX_GZIP6_PORT@#$NGINX_GZIP6_PORT#g" bench/nginx-gzip.conf > "$work/gzip.conf"
nginx -p "$work" -c "$work/gzip.conf" & pids+=($!)
for level in 1 6; do
    port_var="GZIP${level}_PORT"
    BENCH_PORTCULLIS_PORT=${!port_var} BENCH_ADMIN_PORT=$((${!port_var} + 100)) BENCH_ORIGIN_PORT=$ORIGIN_PORT BENCH_GZIP_LEVEL=$level \
        PORTCULLIS_ADMIN_TOKEN=$(openssl rand -hex 32) \
        .build/release/portcullis run --config bench/portcullis-gzip.toml 2>>"$work/portcullis-gzip.log" & pids+=($!)
done
for port in "$NGINX_GZIP1_PORT" "$NGINX_GZIP6_PORT" "$GZIP1_PORT" "$GZIP6_PORT"; do wait_for_port "$port"; done

for port in "$NGINX_GZIP1_PORT" "$NGINX_GZIP6_PORT" "$GZIP1_PORT" "$GZIP6_PORT"; do
    size=$(curl -s -H "Accept-Encoding: gzip" "http://127.0.0.1:$port/data.json" | wc -c)
    curl -s -H "Accept-Encoding: gzip" "http://127.0.0.1:$port/data.json" | gunzip | cmp -s - "$work/www/data.json" \
        || { echo "port $port did not send gzip of the origin's bytes" >&2; exit 1; }
    echo "port $port: 10240 bytes -> $size compressed"
done

printf "\n10 KB JSON, Accept-Encoding: gzip; 1 worker on CPU 0, wrk -c%s on CPU 1, %ss x %s rounds (median)\n\n" \
    "$CONNECTIONS" "$DURATION" "$ROUNDS"
printf "%-10s %-11s %12s %10s %10s\n" level proxy "req/s" "p50 ms" "p99 ms"
for level in 1 6; do
    nginx_var="NGINX_GZIP${level}_PORT"
    portcullis_var="GZIP${level}_PORT"
    nginx_runs=()
    portcullis_runs=()
    for _ in $(seq 1 "$ROUNDS"); do
        nginx_runs+=("$(measure "http://127.0.0.1:${!nginx_var}/data.json" -H "Accept-Encoding: gzip")")
        portcullis_runs+=("$(measure "http://127.0.0.1:${!portcullis_var}/data.json" -H "Accept-Encoding: gzip")")
    done
    for name in nginx portcullis; do
        declare -n runs="${name}_runs"
        rps=$(printf '%s\n' "${runs[@]}" | awk '{print $1}' | median)
        printf "%-10s %-11s %12s %10s %10s\n" "$level" "$name" "$rps" \
            "$(printf '%s\n' "${runs[@]}" | awk '{print $2}' | median)" "$(printf '%s\n' "${runs[@]}" | awk '{print $3}' | median)"
        eval "${name}_rps=$rps"
    done
    printf "%-10s %-11s %12s\n" "$level" "ratio" "$(awk -v a="$portcullis_rps" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }')"
done
