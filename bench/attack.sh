#!/usr/bin/env bash
# `make soak`, part 2: the slow attacks against the release gateway, each while wrk measures a
# normal client (another address) and the gateway's open connections are sampled every second.
# Limits are the shipped ones except client_send_idle, shortened to 10 s for the run:
#   slowloris from 4 addresses    1000 connections sending a head byte every 2 s: client_header (10 s)
#   slowloris from one address    1000 connections: 256 accepted (max_connections_per_ip), the rest closed at accept
#   slow body                     1000 connections sending a body byte every 2 s: client_body_min_rate over 10 s
#   slow reader                   100 connections asking for 8 MB, reading nothing: client_send_idle (10 s)
# Fails when the normal client's p99 reaches 50 ms or attacking connections outlive their limit.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh

start_gateway < <(cat <<TOML
[server]
workers = 2
log_level = "info"
[[listeners]]
address = "127.0.0.1:0"
[timeouts]
client_send_idle = "10s"
TOML
demo_gateway_config)
url="http://127.0.0.1:$http_port"
failed=0

# attack KIND COUNT SOURCES SECONDS LIMIT: runs the attackers, measures the normal client, and
# checks that the gateway holds none of the attack's connections LIMIT seconds after it began.
attack() {
    local kind=$1 count=$2 sources=$3 seconds=$4 limit=$5
    python3 bench/attackers.py "$kind" "$http_port" "$count" "$sources" "$seconds" > "$work/attack.out" &
    local attackers=$!
    sleep 3
    local held_during
    held_during=$(metric portcullis_active_connections)
    local p99
    p99=$(wrk -t2 -c8 -d8s --latency "$url/bytes/100" | awk '$1 == "99%" {print $2}')
    local waited=11
    while (( waited < limit + 2 )) && (( $(metric portcullis_active_connections) > 0 )); do sleep 1; waited=$((waited + 1)); done
    local held_after
    held_after=$(metric portcullis_active_connections)
    wait "$attackers" || true
    printf '%-28s normal client p99 %8s; gateway held %5s connections during the attack, %s at %d s (limit %d s)\n' \
        "$kind x$count from $sources" "$p99" "$held_during" "$held_after" "$waited" "$limit"
    sed 's/^/    /' "$work/attack.out"
    local p99_ms
    p99_ms=$(to_ms "$p99")
    if awk -v p="$p99_ms" 'BEGIN { exit !(p >= 50) }' || (( held_after > 0 )); then
        echo "    FAIL"
        failed=1
    fi
}

attack slowloris 1000 4 16 12
attack slowloris 1000 1 16 12
attack slowbody 1000 4 16 12
attack slowreader 100 4 16 13
echo "refused at accept over the per-address limit: $(metric portcullis_connections_over_address_limit_total)"
exit $failed
