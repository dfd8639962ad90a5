#!/usr/bin/env bash
# `make soak`: memory under short connections. Runs the release gateway in front of the demo
# origin and opens at least CONNECTIONS (default 1,000,000) `Connection: close` connections over
# plain HTTP, then over TLS, with wrk (one request per connection), printing the gateway's RSS
# after every STEP seconds of load: the curve must be flat, RSS at the end within 10 MB of RSS
# after the first 10,000 connections (exit status 1 otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL=${CONNECTIONS:-1000000}
STEP=${STEP:-10}
THREADS=${THREADS:-4}
WORKERS=${WORKERS:-2}

# The work directory, the processes to stop and the cleanup on exit.
# shellcheck source=bench/common.sh
source bench/common.sh

.build/release/portcullis-origin --port 0 > "$work/origin.log" &
pids+=($!)
for _ in $(seq 100); do grep -qs "listening on" "$work/origin.log" && break; sleep 0.05; done
origin_port=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$work/origin.log")

cat > "$work/soak.toml" <<TOML
[server]
workers = $WORKERS
log_level = "info"
[[listeners]]
address = "127.0.0.1:0"
[[listeners]]
address = "127.0.0.1:0"
protocol = "https"
[tls]
self_signed_dev = true
dev_certificate_dir = "$work/certs"
[admin]
address = "127.0.0.1:0"
[[upstreams]]
name = "app"
servers = ["127.0.0.1:$origin_port"]
[[routes]]
upstream = "app"
allow_http = true
TOML
PORTCULLIS_ADMIN_TOKEN=$(openssl rand -hex 32) .build/release/portcullis run --config "$work/soak.toml" > "$work/gateway.log" 2>&1 &
gateway=$!
pids+=($gateway)
for _ in $(seq 200); do grep -qs "portcullis started" "$work/gateway.log" && break; sleep 0.05; done
started=$(grep "portcullis started" "$work/gateway.log")
http_port=$(sed -n 's#.*http://127.0.0.1:\([0-9]*\).*#\1#p' <<<"$started")
https_port=$(sed -n 's#.*https://127.0.0.1:\([0-9]*\).*#\1#p' <<<"$started")

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$gateway/status"; }

# Runs wrk for SECONDS with `Connection: close` (a new connection per request, as many at once
# as THREADS x 16); prints the number of connections it completed.
connections() {
    local url=$1 seconds=$2
    wrk -t"$THREADS" -c$((THREADS * 16)) -d"${seconds}s" -H "Connection: close" "$url/bytes/100" \
        | awk '/requests in/ {print $1}'
}

for scheme in http https; do
    port=$([[ $scheme == http ]] && echo "$http_port" || echo "$https_port")
    url="$scheme://127.0.0.1:$port"
    # The first 10,000 (or so): one short run, then the baseline.
    done_count=0
    while (( done_count < 10000 )); do done_count=$((done_count + $(connections "$url" 1))); done
    first=$(rss_kib)
    printf '%s: %8d connections  RSS %6.1f MiB  (baseline)\n' "$scheme" "$done_count" "$(awk -v k="$first" 'BEGIN { print k / 1024 }')"
    while (( done_count < TOTAL )); do
        count=$(connections "$url" "$STEP")
        done_count=$((done_count + count))
        now=$(rss_kib)
        printf '%s: %8d connections  RSS %6.1f MiB  (%+.1f MiB since the baseline; %d conn/s)\n' "$scheme" "$done_count" \
            "$(awk -v k="$now" 'BEGIN { print k / 1024 }')" "$(awk -v a="$now" -v b="$first" 'BEGIN { print (a - b) / 1024 }')" $((count / STEP))
    done
    growth=$(( ($(rss_kib) - first) / 1024 ))
    if (( growth > 10 )); then
        echo "$scheme: FAIL: RSS grew by $growth MiB (limit 10)"
        failed=1
    else
        echo "$scheme: ok: RSS grew by $growth MiB (limit 10)"
    fi
done
exit "${failed:-0}"
