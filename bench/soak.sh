#!/usr/bin/env bash
# `make soak`, part 1: memory and descriptors over time. Runs the release gateway in front of the
# demo origin and
#  1. opens at least CONNECTIONS (default 1,000,000) `Connection: close` connections over plain
#     HTTP, then over TLS, with wrk (one request per connection), printing the gateway's RSS
#     after every STEP seconds of load: RSS at the end within 10 MB of RSS after the first
#     10,000 connections;
#  2. then KEEPALIVE_REQUESTS (1,000,000) keep-alive requests, SHORT (100,000) more short
#     connections and RELOADS (100) SIGHUP reloads, interleaved, printing RSS and open
#     descriptors at the start, middle and end: descriptors back to where they were, RSS
#     within 10 MB.
# Exit status 1 when a bound is broken.
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL=${CONNECTIONS:-1000000}
STEP=${STEP:-10}
THREADS=${THREADS:-4}
WORKERS=${WORKERS:-2}

# The work directory, the processes to stop and the cleanup on exit.
# shellcheck source=bench/common.sh
source bench/common.sh

start_gateway < <(cat <<TOML
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
dev_certificate_dir = "@WORK@/certs"
TOML
demo_gateway_config)

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
# Part 2: keep-alive requests, short connections and reloads, in ten rounds.
KEEPALIVE_REQUESTS=${KEEPALIVE_REQUESTS:-1000000}
SHORT=${SHORT:-100000}
RELOADS=${RELOADS:-100}
url="http://127.0.0.1:$http_port"
keepalive_done=0 short_done=0 reloads_done=0
report() {
    printf 'mixed %-6s: %8d keep-alive requests, %7d short connections, %3d reloads  RSS %6.1f MiB  %4d descriptors\n' "$1" \
        "$keepalive_done" "$short_done" "$reloads_done" "$(awk -v k="$(rss_kib)" 'BEGIN { print k / 1024 }')" "$(open_fds)"
}
# Idle upstream connections (up to keepalive per worker) close after the 2 s idle_timeout.
sleep 4
start_rss=$(rss_kib) start_fds=$(open_fds)
report start
for round in $(seq 10); do
    while (( keepalive_done < KEEPALIVE_REQUESTS * round / 10 )); do
        keepalive_done=$((keepalive_done + $(wrk -t"$THREADS" -c64 -d2s "$url/bytes/100" | awk '/requests in/ {print $1}')))
    done
    while (( short_done < SHORT * round / 10 )); do short_done=$((short_done + $(connections "$url" 1))); done
    while (( reloads_done < RELOADS * round / 10 )); do
        reloads=$(grep -c "configuration reloaded" "$work/gateway.log" || true)
        kill -HUP "$gateway"
        for _ in $(seq 100); do (( $(grep -c "configuration reloaded" "$work/gateway.log" || true) > reloads )) && break; sleep 0.02; done
        reloads_done=$((reloads_done + 1))
    done
    (( round == 5 )) && report middle
done
sleep 4
report end
growth=$(( ($(rss_kib) - start_rss) / 1024 ))
if (( growth > 10 || $(open_fds) > start_fds + 4 )); then
    echo "mixed: FAIL: RSS grew by $growth MiB (limit 10), descriptors $start_fds -> $(open_fds)"
    failed=1
else
    echo "mixed: ok: RSS grew by $growth MiB, descriptors $start_fds -> $(open_fds)"
fi
exit "${failed:-0}"
