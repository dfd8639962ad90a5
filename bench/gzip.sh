#!/usr/bin/env bash
# gzip on the way out, in one run on this machine: a 10 KB JSON response compressed by nginx
# (gzip_comp_level) and by Portcullis ([gzip] level) at level 1 and level 6 over plain HTTP,
# and at level 1 over TLS with the security headers (nginx's add_header set against
# Portcullis' default profile); keep-alive, one worker each on CPU 0, wrk on CPU 1, median of
# ROUNDS runs.
#
#   bench/gzip.sh                     (make bench)
set -euo pipefail
cd "$(dirname "$0")/.."
ORIGIN_PORT=18300 NGINX_PORT=18381 NGINX_TLS_PORT=18743 PORTCULLIS_PORT=18382 PORTCULLIS_TLS_PORT=18744 ADMIN_PORT=18383
NGINX_GZIP1_PORT=18391 NGINX_GZIP6_PORT=18396 NGINX_GZIP1_TLS_PORT=18791 GZIP1_PORT=18392 GZIP6_PORT=18397 GZIP1_TLS_PORT=18792

# shellcheck source=bench/common.sh
source bench/common.sh
python3 - "$work/www/data.json" <<'PY'
import json, sys
records = [{"id": i, "name": f"user-{i * 7919 % 10007}", "score": i * 31 % 997, "active": i % 3 == 0} for i in range(400)]
text = json.dumps(records)[:10240]
open(sys.argv[1], "w").write(text)
PY
start_proxies
cp bench/nginx-security-headers.conf "$work/security-headers.conf"
sed -e "s#@WORK@#$work#g" -e "s#@ORIGIN_PORT@#$ORIGIN_PORT#g" -e "s#@NGINX_GZIP1_PORT@#$NGINX_GZIP1_PORT#g" \
    -e "s#@NGINX_GZIP6_PORT@#$NGINX_GZIP6_PORT#g" -e "s#@NGINX_GZIP1_TLS_PORT@#$NGINX_GZIP1_TLS_PORT#g" \
    bench/nginx-gzip.conf > "$work/gzip.conf"
nginx -p "$work" -c "$work/gzip.conf" & pids+=($!)
# Each Portcullis case: its port, the level, the header profile (TLS needs its listener).
start_gzip_gateway() {
    local port=$1 level=$2 headers=$3 tls_port=${4:-0}
    BENCH_PORTCULLIS_PORT=$port BENCH_ADMIN_PORT=$((port + 100)) BENCH_ORIGIN_PORT=$ORIGIN_PORT BENCH_GZIP_LEVEL=$level \
        BENCH_HEADERS=$headers BENCH_PORTCULLIS_TLS_PORT=$tls_port BENCH_CERT="$work/cert.pem" BENCH_KEY="$work/key.pem" \
        PORTCULLIS_ADMIN_TOKEN=$(openssl rand -hex 32) \
        .build/release/portcullis run --config bench/portcullis-gzip.toml 2>>"$work/portcullis-gzip.log" & pids+=($!)
}
start_gzip_gateway "$GZIP1_PORT" 1 none
start_gzip_gateway "$GZIP6_PORT" 6 none
start_gzip_gateway $((GZIP1_TLS_PORT - 1000)) 1 default "$GZIP1_TLS_PORT"
cases=("1 plain http://127.0.0.1:$NGINX_GZIP1_PORT http://127.0.0.1:$GZIP1_PORT"
       "6 plain http://127.0.0.1:$NGINX_GZIP6_PORT http://127.0.0.1:$GZIP6_PORT"
       "1 tls+headers https://localhost:$NGINX_GZIP1_TLS_PORT https://localhost:$GZIP1_TLS_PORT")
for port in "$NGINX_GZIP1_PORT" "$NGINX_GZIP6_PORT" "$NGINX_GZIP1_TLS_PORT" "$GZIP1_PORT" "$GZIP6_PORT" "$GZIP1_TLS_PORT"; do
    wait_for_port "$port"
done

for entry in "${cases[@]}"; do
    read -r level transport nginx_url portcullis_url <<< "$entry"
    for url in "$nginx_url" "$portcullis_url"; do
        size=$(curl -sk -H "Accept-Encoding: gzip" "$url/data.json" | wc -c)
        curl -sk -H "Accept-Encoding: gzip" "$url/data.json" | gunzip | cmp -s - "$work/www/data.json" \
            || { echo "$url did not send gzip of the origin's bytes" >&2; exit 1; }
        echo "$url: 10240 bytes -> $size compressed"
    done
done
headers=$(curl -skD - -o /dev/null -H "Accept-Encoding: gzip" "https://localhost:$GZIP1_TLS_PORT/data.json" | grep -ciE "^(strict-transport|content-security|x-frame|x-content-type|referrer-policy|permissions-policy|x-xss)")
[[ $headers -eq 7 ]] || { echo "Portcullis sent $headers of the 7 security headers over TLS" >&2; exit 1; }

printf "\n10 KB JSON, Accept-Encoding: gzip; 1 worker on CPU 0, wrk -c%s on CPU 1, %ss x %s rounds (median)\n\n" \
    "$CONNECTIONS" "$DURATION" "$ROUNDS"
printf "%-16s %-11s %12s %10s %10s\n" case proxy "req/s" "p50 ms" "p99 ms"
for entry in "${cases[@]}"; do
    read -r level transport nginx_url portcullis_url <<< "$entry"
    label="$level $transport"
    nginx_runs=()
    portcullis_runs=()
    for _ in $(seq 1 "$ROUNDS"); do
        nginx_runs+=("$(measure "$nginx_url/data.json" -H "Accept-Encoding: gzip")")
        portcullis_runs+=("$(measure "$portcullis_url/data.json" -H "Accept-Encoding: gzip")")
    done
    for name in nginx portcullis; do
        declare -n runs="${name}_runs"
        rps=$(printf '%s\n' "${runs[@]}" | awk '{print $1}' | median)
        printf "%-16s %-11s %12s %10s %10s\n" "$label" "$name" "$rps" \
            "$(printf '%s\n' "${runs[@]}" | awk '{print $2}' | median)" "$(printf '%s\n' "${runs[@]}" | awk '{print $3}' | median)"
        eval "${name}_rps=$rps"
    done
    printf "%-16s %-11s %12s\n" "$label" "ratio" "$(awk -v a="$portcullis_rps" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }')"
done
