#!/usr/bin/env bash
# make check-deb: builds the Debian package and tests it.
#  1. Its layout, extracted into a scratch root: every file where the README says, with its
#     mode; the configuration valid and free of relative paths; the units clean under
#     `systemd-analyze verify` and their exposure scored by `systemd-analyze security`.
#  2. As root, on this machine: dpkg -i, the gateway started as the portcullis user with the
#     installed configuration in front of a real origin, a request through it over HTTPS and a
#     blocklist change written to /var/lib/portcullis; the package installed again over the
#     running gateway and `portcullis upgrade` handing over to the new file; then dpkg -r (configuration kept) and
#     dpkg -P (nothing left, user gone). Skipped, saying why, without root or when a
#     portcullis package is already installed here.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "check-deb: FAILED: $*" >&2; exit 1; }

# Not `tee /dev/stderr`: when stderr is a file, reopening it truncates it (CI's own log).
built=$(scripts/make-deb.sh)
echo "$built"
package=$(awk -F: 'NR == 1 { print $1 }' <<< "$built")
[ -f "$package" ] || fail "no package built"
scratch=$(mktemp -d)
cleanup() { rm -rf "$scratch"; }
trap cleanup EXIT

# 1. Layout.
dpkg-deb -x "$package" "$scratch"
expect_mode() {
    [ -e "$scratch$2" ] || fail "$2 is missing"
    [ "$(stat -c %a "$scratch$2")" = "$1" ] || fail "$2 has mode $(stat -c %a "$scratch$2"), expected $1"
}
expect_mode 755 /usr/bin/portcullis
expect_mode 644 /etc/portcullis/portcullis.toml
expect_mode 644 /lib/systemd/system/portcullis.service
expect_mode 644 /lib/systemd/system/portcullis.socket
expect_mode 644 /usr/share/man/man1/portcullis.1.gz
for hook in certbot-auth-hook.sh certbot-cleanup-hook.sh certbot-deploy-hook.sh certbot-hook-env.sh write-env-file.sh; do
    expect_mode 755 "/usr/share/portcullis/$hook"
done
[ ! -e "$scratch/etc/portcullis/portcullis.env" ] || fail "the package ships an admin token"
dpkg-deb -f "$package" Depends | grep -q libssl || fail "Depends does not name OpenSSL: $(dpkg-deb -f "$package" Depends)"
dpkg-deb -f "$package" Depends | grep -q 'libc6 (>= 2\.36)' \
    || fail "Depends does not ask for the glibc that loads packed relocations (2.36): $(dpkg-deb -f "$package" Depends)"
zcat "$scratch/usr/share/man/man1/portcullis.1.gz" | grep -q '^\.Dt PORTCULLIS 1' || fail "the man page is not an mdoc page for portcullis(1)"
config=$scratch/etc/portcullis/portcullis.toml
for path in /var/lib/portcullis/blocklist.txt /var/log/portcullis/audit.log /var/lib/portcullis/certs /var/lib/portcullis/acme; do
    grep -qF "$path" "$config" || fail "the installed configuration does not use $path"
done
PORTCULLIS_ADMIN_TOKEN=$(printf 'x%.0s' {1..40}) "$scratch/usr/bin/portcullis" check --config "$config" >/dev/null \
    || fail "the installed configuration does not pass portcullis check"
# verify checks that ExecStart exists: pointed at the extracted binary. Man pages are checked above.
sed "s|/usr/bin/portcullis|$scratch/usr/bin/portcullis|g" "$scratch/lib/systemd/system/portcullis.service" > "$scratch/portcullis.service"
cp "$scratch/lib/systemd/system/portcullis.socket" "$scratch/portcullis.socket"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify --man=no "$scratch/portcullis.service" "$scratch/portcullis.socket" || fail "systemd-analyze verify"
    systemd-analyze security --offline=yes "$scratch/portcullis.service" | tail -1
else
    echo "check-deb: systemd-analyze is not installed; the units were not verified"
fi
echo "check-deb: layout OK ($(dpkg-deb -c "$package" | wc -l) entries)"

# 2. Install, run, remove.
if [ "$(id -u)" != 0 ]; then
    echo "check-deb: SKIPPED the install test: dpkg -i needs root"
    exit 0
fi
if dpkg -s portcullis >/dev/null 2>&1; then
    echo "check-deb: SKIPPED the install test: a portcullis package is already installed on this machine"
    exit 0
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
origin_port=$(free_port); http_port=$(free_port); https_port=$(free_port); admin_port=$(free_port)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    dpkg -P portcullis >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
dpkg -i "$package" >/dev/null || fail "dpkg -i"
getent passwd portcullis >/dev/null || fail "no portcullis user"
[ "$(stat -c '%a %U %G' /etc/portcullis/portcullis.env)" = "640 root portcullis" ] || fail "portcullis.env: $(stat -c '%a %U %G' /etc/portcullis/portcullis.env)"
[ "$(stat -c %U /var/lib/portcullis)" = portcullis ] || fail "/var/lib/portcullis is not the service's"
.build/release/portcullis-origin --port "$origin_port" --name installed-test >/dev/null 2>&1 &
pids+=($!)
# As the unit runs it: the portcullis user, the environment file, the installed configuration.
log=$scratch/gateway.log
(
    set -a
    . /etc/portcullis/portcullis.env
    PORTCULLIS_HTTP_ADDRESS=127.0.0.1:$http_port PORTCULLIS_HTTPS_ADDRESS=127.0.0.1:$https_port
    PORTCULLIS_ADMIN_ADDRESS=127.0.0.1:$admin_port PORTCULLIS_UPSTREAM=127.0.0.1:$origin_port
    exec setpriv --reuid portcullis --regid portcullis --init-groups /usr/bin/portcullis run --config /etc/portcullis/portcullis.toml
) > "$log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "portcullis started" "$log" && break; sleep 0.1; done
grep -q "portcullis started" "$log" || fail "the installed gateway did not start: $(cat "$log")"
status=$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$https_port/")
[ "$status" = 200 ] || fail "a request through the installed gateway got $status"
token=$(sed -n 's/^PORTCULLIS_ADMIN_TOKEN=//p' /etc/portcullis/portcullis.env)
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" -d '{"cidr": "192.0.2.9", "reason": "check-deb"}' \
    "http://127.0.0.1:$admin_port/admin/blocklist")
[ "$status" = 201 ] || fail "a blocklist change got $status"
grep -q 192.0.2.9 /var/lib/portcullis/blocklist.txt || fail "the blocklist change is not in /var/lib/portcullis/blocklist.txt"
[ -s /var/lib/portcullis/certs/dev-localhost.pem ] || fail "no development certificate in /var/lib/portcullis/certs"
# A package upgrade under the running gateway: dpkg replaces the file (the running process'
# /proc/self/exe now ends in " (deleted)"), then `portcullis upgrade` hands over to the new one.
dpkg -i "$package" >/dev/null || fail "dpkg -i over the installed package"
old_pid=${pids[1]}
answer=$(PORTCULLIS_ADMIN_TOKEN=$token /usr/bin/portcullis upgrade --config /etc/portcullis/portcullis.toml --admin "127.0.0.1:$admin_port") \
    || fail "portcullis upgrade: $answer"
new_pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' <<< "$answer")
[ -n "$new_pid" ] && [ "$new_pid" != "$old_pid" ] || fail "portcullis upgrade answered $answer"
pids+=("$new_pid")
echo "check-deb: portcullis upgrade after dpkg -i: $answer"
[ "$(readlink "/proc/$new_pid/exe")" = /usr/bin/portcullis ] || fail "the new process runs $(readlink "/proc/$new_pid/exe")"
[ "$(stat -c %U "/proc/$new_pid")" = portcullis ] || fail "the new process runs as $(stat -c %U "/proc/$new_pid")"
status=$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$https_port/")
[ "$status" = 200 ] || fail "a request after the upgrade got $status"
wait "$old_pid" || fail "the replaced process did not exit cleanly"
kill "$new_pid"
for _ in $(seq 100); do kill -0 "$new_pid" 2>/dev/null || break; sleep 0.1; done
dpkg -r portcullis >/dev/null || fail "dpkg -r"
[ ! -e /usr/bin/portcullis ] || fail "dpkg -r left /usr/bin/portcullis"
[ -e /etc/portcullis/portcullis.toml ] || fail "dpkg -r removed the configuration (a conffile stays until purge)"
dpkg -P portcullis >/dev/null || fail "dpkg -P"
for left in /etc/portcullis /var/lib/portcullis /var/log/portcullis; do [ ! -e "$left" ] || fail "dpkg -P left $left"; done
! getent passwd portcullis >/dev/null || fail "dpkg -P left the portcullis user"
echo "check-deb: installed, served HTTPS as the portcullis user, wrote its state, upgraded in place after dpkg replaced the binary, removed and purged cleanly"
