#!/usr/bin/env bash
# make install: the release binary, the configuration (never overwriting one already there),
# the systemd units, the man page and the certbot hooks, under DESTDIR.
#
#   PREFIX      /usr/local   binary in $PREFIX/bin, hooks in $PREFIX/share/portcullis
#   SYSCONFDIR  /etc         configuration in $SYSCONFDIR/portcullis
#   UNITDIR     $PREFIX/lib/systemd/system
#   BIN_DIR     .build/release   where the built binary is
#   MAN_PAGE    (generated)  the portcullis.1 to install; by default generated from the command
#                            line's own definition (swift-argument-parser's generate-manual)
#   ENV_FILE    yes          write $SYSCONFDIR/portcullis/portcullis.env (admin token, public
#                            addresses) when absent; the Debian package writes it at install
set -euo pipefail
cd "$(dirname "$0")/.."
destdir=${DESTDIR:-}
prefix=${PREFIX:-/usr/local}
sysconfdir=${SYSCONFDIR:-/etc}
unitdir=${UNITDIR:-$prefix/lib/systemd/system}
bin_dir=${BIN_DIR:-.build/release}
confdir=$destdir$sysconfdir/portcullis

install -D -m 0755 "$bin_dir/portcullis" "$destdir$prefix/bin/portcullis"

# The shipped configuration, its paths pointed at the installed layout: what the gateway
# writes goes to /var/lib/portcullis (blocklist, development certificate, ACME webroot) and
# /var/log/portcullis (audit log), never relative to the working directory.
install -d -m 0755 "$confdir"
installed_config=$(mktemp)
trap 'rm -f "$installed_config"' EXIT
sed -e 's|^dev_certificate_dir = "certs"$|dev_certificate_dir = "/var/lib/portcullis/certs"|' \
    -e 's|\${PORTCULLIS_AUDIT_FILE:-logs/audit.log}|${PORTCULLIS_AUDIT_FILE:-/var/log/portcullis/audit.log}|' \
    -e 's|\${PORTCULLIS_BLOCKLIST:-conf/blocklist.txt}|${PORTCULLIS_BLOCKLIST:-/var/lib/portcullis/blocklist.txt}|' \
    -e '/^\[blocklist\]$/,/^\[/ s|^optional = false$|optional = true|' \
    -e 's|\${PORTCULLIS_ACME_WEBROOT:-}|${PORTCULLIS_ACME_WEBROOT:-/var/lib/portcullis/acme}|' \
    conf/portcullis.toml > "$installed_config"
for relative in '"certs"' 'logs/audit.log' 'conf/blocklist.txt' 'PORTCULLIS_ACME_WEBROOT:-}'; do
    if grep -qF "$relative" "$installed_config"; then
        echo "install: conf/portcullis.toml changed: $relative is still relative in the installed configuration" >&2
        exit 1
    fi
done
if [ -e "$confdir/portcullis.toml" ]; then
    install -m 0644 "$installed_config" "$confdir/portcullis.toml.new"
    echo "kept $confdir/portcullis.toml; the shipped one is $confdir/portcullis.toml.new"
else
    install -m 0644 "$installed_config" "$confdir/portcullis.toml"
fi
# The service's user, when installing into this machine as root (the package's postinst does
# the same).
if [ -z "$destdir" ] && [ "$(id -u)" = 0 ] && ! getent passwd portcullis >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/portcullis --no-create-home --shell /usr/sbin/nologin portcullis
fi
if [ "${ENV_FILE:-yes}" = yes ] && [ ! -e "$confdir/portcullis.env" ]; then
    scripts/write-env-file.sh "$confdir/portcullis.env"
fi

for unit in portcullis.service portcullis.socket; do
    source=conf/systemd/$unit
    [ -e "$source" ] || source=conf/systemd/$unit.in
    install -d "$destdir$unitdir"
    sed -e "s|@BINDIR@|$prefix/bin|g" -e "s|@SYSCONFDIR@|$sysconfdir|g" "$source" > "$destdir$unitdir/$unit"
    chmod 0644 "$destdir$unitdir/$unit"
done

for hook in scripts/certbot-*-hook.sh scripts/certbot-hook-env.sh; do
    install -D -m 0755 "$hook" "$destdir$prefix/share/portcullis/$(basename "$hook")"
done
man_page=${MAN_PAGE:-}
if [ -z "$man_page" ]; then
    # From a debug build: the plugin's release build would replace the static-stdlib binary
    # (SwiftPM then keeps the plugin's dynamically linked link step for release).
    swift package plugin generate-manual --configuration debug >/dev/null
    man_page=$(find .build/plugins/GenerateManual/outputs -name portcullis.1 | head -1)
    [ -n "$man_page" ] || { echo "install: the man page was not generated" >&2; exit 1; }
fi
install -D -m 0644 "$man_page" "$destdir$prefix/share/man/man1/portcullis.1"
install -d -m 0750 "$destdir/var/lib/portcullis" "$destdir/var/log/portcullis"
echo "installed under ${destdir:-/}: $prefix/bin/portcullis, $sysconfdir/portcullis, $unitdir/portcullis.service"
[ -n "$destdir" ] || echo "start it with: systemctl daemon-reload && systemctl enable --now portcullis"
