# Shared by the bench/ scripts (sourced): DURATION, CONNECTIONS and ROUNDS defaults, a work
# directory removed on exit, the origin's files, one ECDSA P-256 certificate for both proxies,
# start_nginx_origin (the nginx configurations, the origin started), start_proxies (the nginx
# origin, the nginx proxy with whatever bench/policy.sh put in $work/policy, and Portcullis),
# start_gateway (the release gateway in front of the demo origin, ports from its startup line),
# and the measure / median helpers around wrk.
# Needs ORIGIN_PORT, NGINX_PORT, NGINX_TLS_PORT, PORTCULLIS_PORT, PORTCULLIS_TLS_PORT, ADMIN_PORT.

DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-50}
ROUNDS=${ROUNDS:-3}

work=$(mktemp -d /tmp/portcullis-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www" "$work/policy"
head -c 100 /dev/zero | tr '\0' 'a' > "$work/www/small"
head -c 10240 /dev/zero | tr '\0' 'b' > "$work/www/10k"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

wait_for_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    exit 1
}

# Writes the nginx origin's and the nginx proxy's configurations into $work and starts the
# origin; with one-process, the proxy's configuration has no master process (one process, for
# tools that attach to it).
start_nginx_origin() {
    local conf
    for conf in origin proxy; do
        sed -e "s#@WORK@#$work#g" -e "s#@ORIGIN_PORT@#$ORIGIN_PORT#g" -e "s#@NGINX_PORT@#$NGINX_PORT#g" \
            -e "s#@NGINX_TLS_PORT@#$NGINX_TLS_PORT#g" -e "s#worker_connections 4096#worker_connections ${NGINX_CONNECTIONS:-4096}#" \
            "bench/nginx-$conf.conf" > "$work/$conf.conf"
    done
    if [[ ${1:-} == one-process ]]; then sed -i 's/^daemon off;/daemon off;\nmaster_process off;/' "$work/proxy.conf"; fi
    nginx -p "$work" -c "$work/origin.conf" & pids+=($!)
}

start_proxies() {
    start_nginx_origin
    nginx -p "$work" -c "$work/proxy.conf" & pids+=($!)
    BENCH_PORTCULLIS_PORT=$PORTCULLIS_PORT BENCH_ADMIN_PORT=$ADMIN_PORT BENCH_ORIGIN_PORT=$ORIGIN_PORT \
        BENCH_PORTCULLIS_TLS_PORT=$PORTCULLIS_TLS_PORT BENCH_CERT="$work/cert.pem" BENCH_KEY="$work/key.pem" \
        PORTCULLIS_ADMIN_TOKEN=$(openssl rand -hex 32) \
        .build/release/portcullis run --config bench/portcullis.toml 2>"$work/portcullis.log" & pids+=($!)
    local port
    for port in "$ORIGIN_PORT" "$NGINX_PORT" "$PORTCULLIS_PORT" "$NGINX_TLS_PORT" "$PORTCULLIS_TLS_PORT"; do wait_for_port "$port"; done
}

# The parts of a soak or attack gateway's configuration that do not change: the admin listener,
# no blocklist file or audit log, the demo origin as the one upstream (idle pooled connections
# closed after 2 s, so descriptor counts settle), one route for all.
demo_gateway_config() {
    cat <<'TOML'
[admin]
address = "127.0.0.1:0"
[blocklist]
file = ""
[audit]
file = ""
[[upstreams]]
name = "app"
servers = ["127.0.0.1:@ORIGIN_PORT@"]
idle_timeout = "2s"
[[routes]]
upstream = "app"
allow_http = true
TOML
}

# Starts the release demo origin and the release gateway with the configuration read from
# stdin (@ORIGIN_PORT@ and @WORK@ replaced); sets gateway (its pid), http_port, https_port and
# admin_port from the startup line.
start_gateway() {
    .build/release/portcullis-origin --port 0 > "$work/origin.log" & pids+=($!)
    for _ in $(seq 100); do grep -qs "listening on" "$work/origin.log" && break; sleep 0.05; done
    local origin_port
    origin_port=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$work/origin.log")
    sed -e "s#@ORIGIN_PORT@#$origin_port#g" -e "s#@WORK@#$work#g" > "$work/gateway.toml"
    PORTCULLIS_ADMIN_TOKEN=$(openssl rand -hex 32) .build/release/portcullis run --config "$work/gateway.toml" > "$work/gateway.log" 2>&1 &
    gateway=$!
    pids+=($gateway)
    for _ in $(seq 200); do grep -qs "portcullis started" "$work/gateway.log" && break; sleep 0.05; done
    local started
    started=$(grep "portcullis started" "$work/gateway.log")
    http_port=$(sed -n 's#.*http://127.0.0.1:\([0-9]*\).*#\1#p' <<<"$started")
    https_port=$(sed -n 's#.*https://127.0.0.1:\([0-9]*\).*#\1#p' <<<"$started")
    admin_port=$(sed -n 's#.*admin on 127.0.0.1:\([0-9]*\).*#\1#p' <<<"$started")
}

# Resident memory (KiB) of process $1, or of the gateway.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/${1:-$gateway}/status"; }
open_fds() { find "/proc/$gateway/fd" -mindepth 1 -maxdepth 1 | wc -l; }
metric() { curl -s "http://127.0.0.1:$admin_port/metrics" | awk -v name="$1" '$1 == name {print $2}'; }

# CPU time process $1 has used so far, in clock ticks: "user system".
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }

# One wrk run against URL (extra wrk arguments follow); prints "requests_per_second p50_ms
# p99_ms", and, with MEASURE_PID set, two more columns: requests per second of that process's
# own CPU time (user + system: busy polling is charged for what it burns), and the kernel's
# share of that time in percent.
measure() {
    local url=$1
    shift
    local output user_before=0 system_before=0
    [[ -n "${MEASURE_PID:-}" ]] && read -r user_before system_before < <(cpu_ticks "$MEASURE_PID")
    output=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url")
    local rps p50 p99
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$output")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$output")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$output")
    if grep -q "Non-2xx\|Socket errors" <<<"$output"; then
        echo "warning: errors during the run against $url:" >&2
        grep "Non-2xx\|Socket errors" <<<"$output" >&2
    fi
    local cpu_columns=""
    if [[ -n "${MEASURE_PID:-}" ]]; then
        local requests user system
        requests=$(awk '/requests in/ { print $1 }' <<<"$output")
        read -r user system < <(cpu_ticks "$MEASURE_PID")
        cpu_columns=$(awk -v n="$requests" -v u=$((user - user_before)) -v s=$((system - system_before)) -v hz="$(getconf CLK_TCK)" \
            'BEGIN { t = u + s; printf "%.0f %.0f", (t > 0 ? n * hz / t : 0), (t > 0 ? 100 * s / t : 0) }')
    fi
    echo "$rps $(to_ms "$p50") $(to_ms "$p99") $cpu_columns"
}

to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else { print v }
    }'
}

median() { sort -g | awk '{ v[NR] = $0 } END { print v[int((NR + 1) / 2)] }'; }

